"""Acceptance: an access scan over real sshd laptops finds exactly what the same trees give as file://."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.local import LocalConnector
from connectors.ssh import SSHConnector
from tests.fixtures.sshd import SSHFleet

pytestmark = pytest.mark.service


@pytest.mark.timeout(600)
def test_access_scan_over_ssh_equals_file_endpoints(ssh_fleet: SSHFleet, tmp_path: Path) -> None:
    """`scan_endpoint` over three simulated laptops gives identical items and skips via SSH and via file://."""
    fleet_mod = pytest.importorskip("simulation.fleet")
    scan_mod = pytest.importorskip("detection.scan")
    from detection.identifiers import SubjectIdentifiers
    from detection.matcher import Matcher

    out = tmp_path / "fleet"
    fleet_mod.simulate_fleet(out, endpoints=3, size_mb=0.5, seed=11)
    subject = json.loads((out / "truth.json").read_text())["subjects"][0]
    ids = SubjectIdentifiers(
        emails=tuple(subject.get("emails", ())),
        names=(subject["name"],),
        phones=tuple(subject.get("phones", ())),
        user_ids=tuple(subject.get("user_ids", ())),
    )
    matcher = Matcher.from_identifiers(ids)
    trees = sorted(p for p in out.iterdir() if p.is_dir() and p.name.startswith("laptop-"))
    assert len(trees) == 3
    laptops = [ssh_fleet.start_laptop(f"acc-{tree.name}", tree) for tree in trees]
    known_hosts = ssh_fleet.write_known_hosts(tmp_path / "known_hosts", [lap.known_hosts_line() for lap in laptops])
    total = 0
    for tree, laptop in zip(trees, laptops, strict=True):
        with LocalConnector(tree.name, tree) as local:
            expected = scan_mod.scan_endpoint(local, tree.name, matcher, classify=False)
        with SSHConnector(tree.name, laptop.url, key_file=ssh_fleet.client_key, known_hosts=known_hosts) as ssh:
            got = scan_mod.scan_endpoint(ssh, tree.name, matcher, classify=False)
        key = lambda i: i.to_json()  # noqa: E731
        assert sorted(map(key, got.items)) == sorted(map(key, expected.items))
        assert got.items == expected.items
        assert sorted((s.path, s.reason) for s in got.skipped) == sorted((s.path, s.reason) for s in expected.skipped)
        assert got.owned_sessions == expected.owned_sessions
        total += len(got.items)
    assert total > 0


@pytest.mark.timeout(600)
def test_pipeline_scan_over_ssh_reads_only_owned_sessions(ssh_fleet: SSHFleet, tmp_path: Path) -> None:
    """Over SSH with python3, `scan_endpoint` finds the same items but opens over SFTP only session records and
    files of sessions the person owns (the rest is scanned on the laptop; only candidate lines come back)."""
    from detection.identifiers import SubjectIdentifiers
    from detection.matcher import Matcher
    from detection.scan import scan_endpoint
    from simulation.fleet import simulate_fleet

    out = tmp_path / "fleet"
    simulate_fleet(out, endpoints=2, size_mb=0.3, seed=12)
    subject = json.loads((out / "truth.json").read_text())["subjects"][0]
    matcher = Matcher.from_identifiers(
        SubjectIdentifiers(emails=tuple(subject["emails"]), names=(subject["name"],), phones=tuple(subject["phones"]))
    )
    tree = out / "laptop-02"
    laptop = ssh_fleet.start_laptop("pipe-laptop-02", tree)
    known_hosts = ssh_fleet.write_known_hosts(tmp_path / "known_hosts", [laptop.known_hosts_line()])
    with LocalConnector("laptop-02", tree) as local:
        expected = scan_endpoint(local, "laptop-02", matcher, classify=False)

    class CountingSSH(SSHConnector):
        opened: list[str] = []  # noqa: RUF012 - test spy

        def open(self, item):  # type: ignore[no-untyped-def]
            CountingSSH.opened.append(item.path)
            return super().open(item)

    with CountingSSH("laptop-02", laptop.url, key_file=ssh_fleet.client_key, known_hosts=known_hosts) as ssh:
        got = scan_endpoint(ssh, "laptop-02", matcher, classify=False)
        assert ssh.last_scan_mode == "remote"
    assert got.items == expected.items
    owned = {sid for sid, _ in got.owned_sessions}
    records = ("session_record", "code_session_record")  # read whole for the ownership rule (small JSON)
    matched_paths = {i.path for i in got.items if i.reason != "owned_session" and i.kind not in records}
    opened_not_owned = [p for p in CountingSSH.opened if p in matched_paths and not any(s in p for s in owned)]
    assert matched_paths and not opened_not_owned, opened_not_owned[:3]
