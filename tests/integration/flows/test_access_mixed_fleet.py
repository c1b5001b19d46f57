"""A mixed fleet: 10 mixed-OS laptops (7 as file:// trees, 3 behind real sshd) plus one versioned S3 store."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from flows.access import access_request
from models.types import RequestKind
from simulation.services import seed_backup_bucket
from tests.fixtures.s3server import S3Server
from tests.fixtures.sshd import SSHFleet
from tests.integration.flows.conftest import make_fleet

pytestmark = [pytest.mark.service, pytest.mark.usefixtures("prefect_harness"), pytest.mark.timeout(900)]
SSH_LAPTOPS = ("laptop-08", "laptop-09", "laptop-10")
BUCKET = "agent-backups"


def test_every_planted_location_on_file_ssh_and_s3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ssh_fleet: SSHFleet, moto_s3: S3Server
) -> None:
    """Every truth location (file:// and sshd laptops) and every S3 version line naming the person is reported;
    the sealed package lands in the evidence bucket encrypted and under Object Lock."""
    fleet = make_fleet(tmp_path, 10, seed=13)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto_s3.credentials.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto_s3.credentials.secret_access_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    text = fleet.config.read_text(encoding="utf-8")
    known = []
    for name in SSH_LAPTOPS:
        laptop = ssh_fleet.start_laptop(name, fleet.root / name)
        text = text.replace(f'url = "file://{fleet.root / name}"', f'url = "{laptop.url}"')
        known.append(laptop.known_hosts_line())
    known_hosts = ssh_fleet.write_known_hosts(tmp_path / "known_hosts", known)
    sources = {
        f"laptop-01/{p.name}": p
        for p in sorted((fleet.root / "laptop-01").rglob("*.jsonl"))
        if b"zoe.angstrom@example.invalid" in p.read_bytes().lower()
    }
    seed_backup_bucket(moto_s3.endpoint_url, BUCKET, "nightly/", dict(list(sources.items())[:3]))
    moto_s3.client().create_bucket(Bucket="evidence", ObjectLockEnabledForBucket=True)
    text += (
        f'\n[evidence]\nbucket = "evidence"\nendpoint_url = "{moto_s3.endpoint_url}"\nretention_days = 1\n'
        f'\n[ssh]\nkey_file = "{ssh_fleet.client_key}"\nknown_hosts = "{known_hosts}"\n'
        f'\n[[stores]]\nname = "backups"\nurl = "s3://{BUCKET}/nightly/"\nendpoint_url = "{moto_s3.endpoint_url}"\n'
    )
    fleet.config.write_text(text, encoding="utf-8")
    monkeypatch.setenv("DSR_CONFIG", str(fleet.config))

    rid = fleet.submit(RequestKind.ACCESS)
    assert access_request(rid)["issued"] is True
    report = json.loads((fleet.package(rid, tmp_path / "out") / "report.json").read_text(encoding="utf-8"))
    statuses = {s.get("name", s.get("location")): s["status"] for s in report["searched"]}
    assert all(statuses[f"laptop-{i:02d}"] == "scanned" for i in range(1, 11)) and statuses["backups"] == "scanned"

    found = {(i["location"].get("endpoint"), i["location"]["path"], i["location"]["line"]) for i in report["items"]}
    planted = {
        (loc["endpoint"], loc["path"], loc["line"])
        for loc in fleet.truth["locations"]
        if loc["subject"] == "s1" and loc["in_agent_store"]
    }
    missing = {p for p in planted if p not in found and (p[0], p[1], None) not in found}
    assert not missing, sorted(missing, key=str)[:3]
    assert any(p[0] in SSH_LAPTOPS for p in planted)

    client = moto_s3.client()
    stored = client.head_object(Bucket="evidence", Key=f"{rid}/package/{rid}.zip.enc")
    assert stored["ServerSideEncryption"] == "AES256"
    assert stored.get("ObjectLockMode") == "COMPLIANCE"
    expected = set()
    for version in client.list_object_versions(Bucket=BUCKET)["Versions"]:
        body = client.get_object(Bucket=BUCKET, Key=version["Key"], VersionId=version["VersionId"])["Body"].read()
        if version["Key"].endswith(".gz"):
            body = gzip.decompress(body)
        for number, line in enumerate(body.split(b"\n"), start=1):
            if b"zoe.angstrom@example.invalid" in line.lower():
                expected.add((version["Key"], version["VersionId"], number))
    reported = {
        (i["location"]["path"], i["location"].get("version_id"), i["location"]["line"])
        for i in report["items"]
        if i["location"].get("store") == "backups"
    }
    assert expected and expected <= reported, sorted(expected - reported)[:3]
