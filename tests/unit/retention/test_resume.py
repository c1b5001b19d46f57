"""Crash safety of real purge runs: the saved plan of a run that died is finished and recorded by the next."""

from __future__ import annotations

import pytest
from sqlmodel import select

from models.db import session_scope
from models.settings import DatabaseSettings, DispositionSettings
from models.tables import LedgerEntry, RetentionRun
from proofs.entry import LedgerAction
from retention.execute import execute_purge
from retention.plan import PurgePlan, PurgeStatus, PurgeUnit, plan_purge
from services.evidence import ledger_for
from services.retention_runs import pending_dir, pending_plan, resume_pending, run_purge
from tests.unit.retention.conftest import REFERENCE, Fleet


class Crash(Exception):
    """Stands for the process dying."""


def test_plan_json_roundtrip(fleet: Fleet) -> None:
    """A purge plan survives its JSON form unchanged (what a crashed run leaves behind)."""
    plan = plan_purge(fleet.settings, fleet.connectors(), now=REFERENCE)
    assert plan.candidates
    restored = PurgePlan.from_json(plan.to_json())
    assert restored == plan
    assert all(isinstance(c.unit, PurgeUnit) and isinstance(c.status, PurgeStatus) for c in restored.candidates)


def test_run_after_crash_records_the_deletion(fleet: Fleet, database_url: str) -> None:
    """A session deleted just before the crash (no proof entry yet) gets its entry from the next real run."""
    settings = fleet.settings.model_copy(
        update={"database": DatabaseSettings(url=database_url), "disposition": DispositionSettings(review=False)}
    )
    plan = plan_purge(settings, fleet.connectors(), now=REFERENCE)
    ledger = ledger_for(settings)

    def die(step: str) -> None:
        if step == "before_ledger":
            raise Crash(step)

    with pytest.raises(Crash), pending_plan(settings, plan, "purge-crashed") as saved:
        execute_purge(
            plan, connectors=fleet.connectors(), ledger=ledger, run_id="purge-crashed", actor="t", kill_hook=die
        )
    first = next(c for c in plan.candidates if c.unit == "session")
    assert not any((fleet.root / first.location / f.path.lstrip("/")).exists() for f in first.files)
    assert list(ledger.entries()) == []
    assert saved.exists()

    summary = run_purge(settings, dry_run=False, policy=None, now=REFERENCE, run_id="purge-next")
    assert summary["resumed"] and summary["outcome"] == "complete"
    assert summary["totals"]["purge"]["sessions"] == 0
    assert not list(pending_dir(settings).glob("*.json"))
    with session_scope(database_url) as session:
        purges = session.exec(select(LedgerEntry).where(LedgerEntry.action == LedgerAction.PURGE.value)).all()
        assert len(purges) == len(fleet.expired(365))
        assert first.path in {p.path for p in purges}
        assert [r.dry_run for r in session.exec(select(RetentionRun)).all()] == [False]
    assert ledger_for(settings).verify().ok


def test_plan_of_a_running_run_is_not_resumed(fleet: Fleet, database_url: str) -> None:
    """While a real run holds its saved plan, another run leaves it alone; a finished run removes it."""
    settings = fleet.settings.model_copy(update={"database": DatabaseSettings(url=database_url)})
    plan = plan_purge(settings, fleet.connectors(), now=REFERENCE)
    with pending_plan(settings, plan, "purge-running") as saved:
        assert saved.exists() and saved.stat().st_mode & 0o077 == 0
        assert resume_pending(settings, fleet.connectors(), run_id="other") == {}
        assert saved.exists()
    assert not saved.exists()
    assert list(ledger_for(settings).entries()) == []
