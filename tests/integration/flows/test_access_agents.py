"""The access flow on a fleet with every covered agent: file:// laptops and one behind a real sshd."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.access import access_request
from models.types import RequestKind
from tests.fixtures.sshd import SSHFleet
from tests.integration.flows.conftest import make_fleet

pytestmark = [pytest.mark.service, pytest.mark.usefixtures("prefect_harness"), pytest.mark.timeout(900)]
SSH_LAPTOP = "laptop-03"


def test_access_finds_every_agent_location_and_no_trap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ssh_fleet: SSHFleet
) -> None:
    """Recall 1.0 and no trap through the access flow, database rows included (read over SSH from a copy of
    the database and its WAL); the package names each item's agent and keeps `location.record`."""
    fleet = make_fleet(tmp_path, 4, seed=21, agents=True)
    text = fleet.config.read_text(encoding="utf-8")
    laptop = ssh_fleet.start_laptop(SSH_LAPTOP, fleet.root / SSH_LAPTOP)
    text = text.replace(f'url = "file://{fleet.root / SSH_LAPTOP}"', f'url = "{laptop.url}"')
    known_hosts = ssh_fleet.write_known_hosts(tmp_path / "known_hosts", [laptop.known_hosts_line()])
    text += f'\n[ssh]\nkey_file = "{ssh_fleet.client_key}"\nknown_hosts = "{known_hosts}"\n'
    fleet.config.write_text(text, encoding="utf-8")
    monkeypatch.setenv("DSR_CONFIG", str(fleet.config))

    rid = fleet.submit(RequestKind.ACCESS)
    assert access_request(rid)["issued"] is True
    report = json.loads((fleet.package(rid, tmp_path / "out") / "report.json").read_text(encoding="utf-8"))
    searched = {s.get("name", s.get("location")): s for s in report["searched"]}
    for i in range(1, 5):
        # Every laptop holds an encrypted Windsurf store: read as far as possible, never called fully scanned.
        entry = searched[f"laptop-{i:02d}"]
        assert entry["status"] == "scanned_with_gaps" and "encrypted" in entry["reason"], entry

    found = {
        (i["location"].get("endpoint"), i["location"]["path"], i["location"]["line"], i["location"].get("record"))
        for i in report["items"]
    }
    whole = {(e, p) for e, p, line, rec in found if line is None and rec is None}
    planted = {
        (loc["endpoint"], loc["path"], loc["line"], loc.get("record"))
        for loc in fleet.truth["locations"]
        if loc["subject"] == "s1" and loc["in_agent_store"]
    }
    missing = {p for p in planted if p not in found and (p[0], p[1]) not in whole}
    assert not missing, sorted(missing, key=str)[:5]
    assert any(p[0] == SSH_LAPTOP and p[3] for p in planted), "database rows behind sshd are planted"
    # On the subject's own laptop her sessions are listed whole (owned), trap lines included; elsewhere a
    # look-alike never matches.
    matched = {
        (i["location"].get("endpoint"), i["location"]["path"], i["location"]["line"], i["location"].get("record"))
        for i in report["items"]
        if i["reason"] == "match"
    }
    traps = {(t["endpoint"], t["path"], t["line"], None) for t in fleet.truth["traps"]}
    assert not traps & matched, sorted(traps & matched, key=str)[:3]
    apps = {i["app"] for i in report["items"]}
    assert {"codex", "cursor", "zed", "opencode", "gemini-cli", "cline", "copilot", "aider", "continue"} <= apps
