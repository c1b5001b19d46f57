"""`dsr doctor` on a configuration like the demo's (local trees, a real sshd laptop, a moto S3 store, the demo's
register): every check passes; with the laptop's host key changed, that line fails and names the fix."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from dsr.demo import REGISTER
from models.db import get_engine
from models.keys import hmac_key, master_key
from tests.fixtures.s3server import S3Server
from tests.fixtures.sshd import SSHFleet
from tests.unit.dsr.conftest import invoke_main

pytestmark = pytest.mark.service
LOCAL = ("laptop-01", "laptop-02")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def demo_like(
    ssh_fleet: SSHFleet, moto_s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, SSHFleet, Path, str]:
    """A demo-like dsr.toml: two local trees, one sshd laptop, one versioned bucket; database and keys made."""
    for name in LOCAL:
        (tmp_path / "fleet" / name).mkdir(parents=True)
    tree = tmp_path / "fleet" / "laptop-03"
    tree.mkdir()
    laptop = ssh_fleet.start_laptop("doctor-laptop", tree)
    known = ssh_fleet.write_known_hosts(tmp_path / "known_hosts", [laptop.known_hosts_line()])
    client = moto_s3.client()
    client.create_bucket(Bucket="doctor-backups")
    client.put_bucket_versioning(Bucket="doctor-backups", VersioningConfiguration={"Status": "Enabled"})
    config = tmp_path / "dsr.toml"
    config.write_text(
        "\n".join(
            [
                "[database]",
                f'url = "sqlite:///{tmp_path / "dsr.db"}"',
                "[prefect]",
                f"port = {_free_port()}",
                "[ssh]",
                f'key_file = "{ssh_fleet.client_key}"',
                f'known_hosts = "{known}"',
                *[
                    f'[[endpoints]]\nname = "{n}"\nurl = "file://{tmp_path / "fleet" / n}"'
                    for n in ("laptop-01", "laptop-02")
                ],
                '[[endpoints]]\nname = "laptop-03"',
                f'url = "{laptop.url}"',
                '[[stores]]\nname = "history-backups"\nurl = "s3://doctor-backups/laptops/"',
                f'endpoint_url = "{moto_s3.endpoint_url}"',
            ]
        )
        + "\n"
        + REGISTER
    )
    for var in ("DSR_DATABASE_URL", "DSR_MASTER_KEY", "DSR_HMAC_KEY", "PREFECT_API_URL", "DSR_LEDGER_SIGNING_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DSR_CONFIG", str(config))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    get_engine(f"sqlite:///{tmp_path / 'dsr.db'}")
    master_key(tmp_path / ".dsr")
    hmac_key(tmp_path / ".dsr")
    return config, ssh_fleet, known, laptop.known_hosts_line(ssh_fleet.new_host_key_line("doctor-other"))


def test_doctor_passes_then_names_the_fix_for_a_changed_host_key(
    demo_like: tuple[Path, SSHFleet, Path, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """All checks pass (exit 0); after the laptop's key changes, its line fails with `ssh-keygen -R`, exit 1."""
    _config, fleet, known, changed_line = demo_like
    passed = invoke_main(monkeypatch, capsys, "doctor", "--json")
    doc = json.loads(passed.stdout)
    failures = [c for c in doc["checks"] if c["status"] == "fail"]
    assert passed.returncode == 0 and doc["passed"] and not failures, failures
    names = [c["check"] for c in doc["checks"]]
    assert {"configuration", "database", "register", "prefect", "schedules", "store history-backups"} <= set(names)
    laptop = next(c for c in doc["checks"] if c["check"] == "endpoint laptop-03")
    assert "host key matches" in laptop["detail"] and "remote scanner runs" in laptop["detail"]
    store = next(c for c in doc["checks"] if c["check"] == "store history-backups")
    assert "versioning Enabled" in store["detail"] and "Object Lock off" in store["detail"]

    fleet.write_known_hosts(known, [changed_line])
    failed = invoke_main(monkeypatch, capsys, "doctor")
    assert failed.returncode == 1
    lines = [line for line in failed.stdout.splitlines() if "laptop-03" in line]
    assert len(lines) == 1 and lines[0].startswith("FAIL") and "MISMATCH" in lines[0]
    assert "ssh-keygen -R" in lines[0] and str(known) in lines[0]
    assert all(line.startswith(("ok", "info")) for line in failed.stdout.splitlines() if "laptop-03" not in line)
