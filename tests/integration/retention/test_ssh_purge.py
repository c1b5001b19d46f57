"""Retention purge over a real sshd laptop: the same sessions go as over file://, with verifiable proofs."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.base import Connector
from connectors.registry import open_location
from erasure.executor import ActionStatus
from models.settings import EndpointSettings
from proofs.ledger import Ledger
from proofs.store import JsonlLedgerStore
from retention.execute import execute_purge
from retention.plan import PurgeStatus, plan_purge
from tests.fixtures.sshd import SSHFleet
from tests.unit.retention.conftest import REFERENCE, make_fleet

pytestmark = pytest.mark.service


@pytest.mark.timeout(600)
def test_purge_over_ssh_deletes_the_expired_sessions(ssh_fleet: SSHFleet, tmp_path: Path) -> None:
    """Planned over SSH, the purge lists exactly the expired sessions of the laptop and deletes them."""
    fleet = make_fleet(tmp_path / "fleet", endpoints=2, seed=13)
    laptop = ssh_fleet.start_laptop("retention-ssh", fleet.root / "laptop-02")
    known_hosts = ssh_fleet.write_known_hosts(tmp_path / "known_hosts", [laptop.known_hosts_line()])
    endpoint = EndpointSettings(
        name="laptop-02", url=laptop.url, key_file=ssh_fleet.client_key, known_hosts=known_hosts
    )
    settings = fleet.settings.model_copy(update={"endpoints": [endpoint]})

    def connectors(name: str) -> Connector:
        return open_location(name, settings)

    plan = plan_purge(settings, connectors, now=REFERENCE)
    expected = {key for key in fleet.expired(365) if key[0] == "laptop-02"}
    assert expected
    assert {(c.location, c.session_id) for c in plan.with_status(PurgeStatus.PURGE)} == expected
    ledger = Ledger(JsonlLedgerStore(tmp_path / "ledger.jsonl"), signer=None)
    report = execute_purge(plan, connectors=connectors, ledger=ledger, run_id="purge-ssh", actor="t")
    assert {o.status for o in report.outcomes} == {ActionStatus.DONE}
    for session in fleet.sessions():
        if session["endpoint"] != "laptop-02":
            continue
        gone = (session["endpoint"], session["session_id"]) in expected
        for path in session["paths"]:
            assert (fleet.root / "laptop-02" / path.lstrip("/")).exists() is not gone, path
    assert ledger.verify().ok
    assert plan_purge(settings, connectors, now=REFERENCE).candidates == ()
