"""Fan-out over real sshd laptops: dead, hostile and untrusted laptops get distinct statuses in seconds."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from connectors.base import Expected, Item
from connectors.ssh import SIMULATED_BUSY_MARKER, SSHConnector
from models.errors import (
    BusyError,
    ConfigError,
    HostKeyMismatchError,
    HostKeyUnknownError,
    UnreachableError,
)
from models.types import LocationStatus
from tests.fixtures.sshd import SSHFleet
from tests.integration.ssh.conftest import LITERALS, build_tree
from tests.integration.ssh.fanout import classify_error, fan_out, is_retryable, probe_endpoint, summarize

pytestmark = pytest.mark.service

DEADLINE_SECONDS = 10.0


def _scan(connector: SSHConnector) -> int:
    return sum(1 for _ in connector.scan_remote("/", LITERALS))


def test_dead_laptops_get_distinct_statuses_quickly(ssh_fleet: SSHFleet, tmp_path: Path) -> None:
    """Closed port, mute server, changed key, unknown host and refused key each get their own status in under
    10 s with no session opened, while healthy laptops finish their scan."""
    good = []
    for index in range(2):
        tree = tmp_path / f"good{index}"
        build_tree(tree)
        good.append(ssh_fleet.start_laptop(f"good{index}", tree))
    empty = tmp_path / "empty"
    empty.mkdir()
    changed = ssh_fleet.start_laptop("changed-key", empty)
    unknown = ssh_fleet.start_laptop("unknown-host", empty)
    refused = ssh_fleet.start_laptop("refused-key", empty)
    closed_host, closed_port = ssh_fleet.closed_port()
    mute_host, mute_port = ssh_fleet.mute_listener()
    known_hosts = ssh_fleet.write_known_hosts(
        tmp_path / "known_hosts",
        [laptop.known_hosts_line() for laptop in (*good, refused)]
        + [changed.known_hosts_line(ssh_fleet.new_host_key_line("changed"))],
    )

    def connector(name: str, url: str, key: Path | None = None) -> SSHConnector:
        return SSHConnector(name, url, key_file=key or ssh_fleet.client_key, known_hosts=known_hosts)

    connectors = [
        connector("good0", good[0].url),
        connector("closed", f"ssh://root@{closed_host}:{closed_port}/"),
        connector("mute", f"ssh://root@{mute_host}:{mute_port}/"),
        connector("changed", changed.url),
        connector("unknown", unknown.url),
        connector("refused", refused.url, ssh_fleet.new_client_key("stranger")),
        connector("good1", good[1].url),
    ]
    started = time.monotonic()
    outcomes = {o.name: o for o in fan_out(connectors, _scan, max_workers=8)}
    wall = time.monotonic() - started

    assert {name: o.status for name, o in outcomes.items()} == {
        "good0": LocationStatus.SCANNED,
        "good1": LocationStatus.SCANNED,
        "closed": LocationStatus.UNREACHABLE,
        "mute": LocationStatus.UNREACHABLE,
        "changed": LocationStatus.HOST_KEY_MISMATCH,
        "unknown": LocationStatus.HOST_KEY_UNKNOWN,
        "refused": LocationStatus.AUTH_FAILED,
    }
    for outcome in outcomes.values():
        assert outcome.seconds < DEADLINE_SECONDS, outcome
    assert wall < DEADLINE_SECONDS + 2
    assert outcomes["good0"].value > 10
    assert outcomes["mute"].reason == "UnreachableError"
    for laptop in (changed, unknown, refused):
        assert "Accepted publickey" not in laptop.log_text()
    assert "Accepted publickey" in good[0].log_text()
    assert summarize(outcomes.values())["scanned"] == 2


def test_host_key_problems_are_not_retried(ssh_fleet: SSHFleet, tmp_path: Path) -> None:
    """Unknown and changed host keys raise their own errors, which are never retryable; unreachable is."""
    empty = tmp_path / "e"
    empty.mkdir()
    laptop = ssh_fleet.start_laptop("retry-policy", empty)
    nobody = ssh_fleet.write_known_hosts(tmp_path / "kh_empty", [])
    other = ssh_fleet.write_known_hosts(
        tmp_path / "kh_other", [laptop.known_hosts_line(ssh_fleet.new_host_key_line("retry"))]
    )
    for known_hosts, error in ((nobody, HostKeyUnknownError), (other, HostKeyMismatchError)):
        conn = SSHConnector("x", laptop.url, key_file=ssh_fleet.client_key, known_hosts=known_hosts)
        with pytest.raises(error) as caught:
            conn.connect()
        assert not is_retryable(caught.value)
        assert conn._client is None
    closed_host, port = ssh_fleet.closed_port()
    conn = SSHConnector("y", f"ssh://root@{closed_host}:{port}/", key_file=ssh_fleet.client_key, known_hosts=nobody)
    with pytest.raises(UnreachableError) as unreachable:
        conn.connect()
    assert is_retryable(unreachable.value)
    assert classify_error(unreachable.value) is LocationStatus.UNREACHABLE


def test_key_file_readable_by_others_refused(ssh_fleet: SSHFleet, tmp_path: Path) -> None:
    """A private key readable by group or others is refused with the path and `chmod 600` in the message."""
    key = ssh_fleet.new_client_key("loose")
    key.chmod(0o644)
    conn = SSHConnector("z", "ssh://root@127.0.0.1:2222/", key_file=key, known_hosts=tmp_path / "kh")
    with pytest.raises(ConfigError) as caught:
        conn.connect()
    assert str(key) in str(caught.value)
    assert "chmod 600" in str(caught.value)
    assert probe_endpoint(conn).status is LocationStatus.FAILED


def test_busy_laptop_refuses_changes(ssh_fleet: SSHFleet, tmp_path: Path) -> None:
    """With the agent app running (simulated marker), replace raises BusyError and the file is unchanged."""
    tree = tmp_path / "busy"
    build_tree(tree)
    laptop = ssh_fleet.start_laptop("busy", tree)
    known_hosts = ssh_fleet.write_known_hosts(tmp_path / "kh", [laptop.known_hosts_line()])
    path = "/Users/ana/.claude/history.jsonl"
    before = (tree / path.lstrip("/")).read_bytes()
    with SSHConnector("busy", laptop.url, key_file=ssh_fleet.client_key, known_hosts=known_hosts) as conn:
        item = conn.stat(path)
        assert isinstance(item, Item)
        (tree / SIMULATED_BUSY_MARKER).write_bytes(b"")
        activity = conn.activity()
        assert activity.agent_running
        with pytest.raises(BusyError) as caught:
            conn.replace(item, [b"x\n"], Expected(size=item.size, version=item.version))
        assert classify_error(caught.value) is LocationStatus.BUSY
        assert is_retryable(caught.value)
    assert (tree / path.lstrip("/")).read_bytes() == before


def test_activity_sees_agent_process_by_name(ssh_fleet: SSHFleet, tmp_path: Path) -> None:
    """On an unrooted endpoint, a running process named `claude` (found with a fixed `ps` command) is busy."""
    if shutil.which("ps") is None:
        pytest.skip("ps (procps) is not installed")
    empty = tmp_path / "e"
    empty.mkdir()
    laptop = ssh_fleet.start_laptop("procs", empty)
    known_hosts = ssh_fleet.write_known_hosts(tmp_path / "kh", [laptop.known_hosts_line()])
    fake = tmp_path / "claude"
    shutil.copy("/bin/sleep", fake)
    proc = subprocess.Popen([str(fake), "60"])
    try:
        url = f"ssh://root@{laptop.host}:{laptop.port}"
        with SSHConnector("procs", url, key_file=ssh_fleet.client_key, known_hosts=known_hosts) as conn:
            activity = conn.activity()
    finally:
        proc.kill()
        proc.wait(timeout=5)
    assert activity.agent_running
    assert "process:claude" in activity.evidence


def test_session_file_with_live_pid_is_busy(ssh_fleet: SSHFleet, tmp_path: Path) -> None:
    """A `~/.claude/sessions/<pid>.json` marks the laptop busy only while that pid is alive (checked via ps)."""
    tree = tmp_path / "sess"
    sessions = tree / "Users" / "ana" / ".claude" / "sessions"
    sessions.mkdir(parents=True)
    laptop = ssh_fleet.start_laptop("sessions", tree)
    known_hosts = ssh_fleet.write_known_hosts(tmp_path / "kh", [laptop.known_hosts_line()])
    finished = subprocess.Popen(["true"])
    finished.wait(timeout=5)
    (sessions / f"{finished.pid}.json").write_text("{}")
    with SSHConnector("sessions", laptop.url, key_file=ssh_fleet.client_key, known_hosts=known_hosts) as conn:
        assert conn.activity().agent_running is False
        (sessions / f"{os.getpid()}.json").write_text("{}")
        activity = conn.activity()
    assert activity.agent_running is True
    assert activity.evidence == (f"session_pid:{os.getpid()}",)
