"""Erasure over real sshd laptops: the same plan, execution and convergence as over file:// trees."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.ssh import SSHConnector
from erasure.discovery import discover_endpoint
from erasure.executor import execute_plan
from erasure.plan import ErasurePlan, plan_erasure
from erasure.verify import verify_erasure
from models.settings import ErasureSettings
from tests.fixtures.sshd import SSHFleet
from tests.unit.erasure.fleet import NOW, REQUEST, SimulatedKill, kill_at, make_fleet, new_ledger

pytestmark = pytest.mark.service


def _shape(plan: ErasurePlan) -> list[tuple[object, ...]]:
    """The plan's decisions without backend-specific version tokens."""
    return sorted(
        (
            a.kind.value,
            a.location,
            a.path or "",
            a.lines,
            a.target.sha256 if a.target else None,
            tuple(sorted((f.path, f.sha256) for f in a.files)),
            a.dirs,
            a.ground or "",
        )
        for a in plan.actions
    )


@pytest.mark.timeout(600)
def test_erasure_over_ssh_is_complete_and_survives_a_kill(ssh_fleet: SSHFleet, tmp_path: Path) -> None:
    """Over SFTP: a kill after a replace, then a rerun, leaves no subject form, no temp file, one entry per action."""
    fleet = make_fleet(tmp_path / "fleet", endpoints=2)
    laptops = {e["name"]: ssh_fleet.start_laptop(f"er-{e['name']}", fleet.root(e["name"])) for e in fleet.endpoints}
    known_hosts = ssh_fleet.write_known_hosts(
        tmp_path / "known_hosts", [lap.known_hosts_line() for lap in laptops.values()]
    )

    def connect(name: str) -> SSHConnector:
        return SSHConnector(name, laptops[name].url, key_file=ssh_fleet.client_key, known_hosts=known_hosts)

    def discover() -> list:  # type: ignore[type-arg]
        found = []
        for endpoint in fleet.endpoints:
            with connect(endpoint["name"]) as conn:
                owners = [endpoint["owner"]] if endpoint["owner"] else []
                found.append(discover_endpoint(conn, endpoint["name"], fleet.matcher, owner_ids=owners))
        return found

    plan = plan_erasure(REQUEST, discover(), settings=ErasureSettings(), holds=[], subject_hashes=set(), now=NOW)
    assert _shape(plan) == _shape(fleet.plan()), "SSH and file:// discovery must give the same decisions"
    ledger = new_ledger(tmp_path / "ledger.jsonl")

    def run(kill: object = None) -> object:
        return execute_plan(
            plan,
            connectors=connect,
            matcher=fleet.matcher,
            ledger=ledger,
            run_id="ssh-run",
            actor="tester",
            kill_hook=kill,  # type: ignore[arg-type]
        )

    with pytest.raises(SimulatedKill):
        run(kill_at("after_replace", 2))
    report = run()
    assert report.complete, report.pending  # type: ignore[attr-defined]
    assert fleet.temp_files() == []
    assert fleet.subject_hits(plan) == []
    entries = list(ledger.entries())
    assert len(entries) == len(plan.actions) == len({e.idempotency_key for e in entries})
    assert verify_erasure(plan, discover()).clean
