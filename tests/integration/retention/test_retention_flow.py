"""The retention purge flow end to end on a simulated fleet, under Prefect's test harness."""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from sqlmodel import col, select

from flows.retention_purge import retention_purge
from models.db import session_scope
from models.errors import InputError
from models.holds import add_hold
from models.settings import Settings
from models.tables import AuditEvent, LedgerEntry, RetentionRun
from models.types import RequestKind
from proofs.entry import LedgerAction
from services.evidence import ledger_for
from tests.integration.retention.conftest import REFERENCE, Fleet

pytestmark = [pytest.mark.service, pytest.mark.usefixtures("prefect_harness")]


def _subject_sessions(fleet: Fleet) -> set[tuple[str, str]]:
    """Sessions the planted subject owns or is named in (by the generator's truth)."""
    alias = {(s["endpoint"], cid): s["session_id"] for s in fleet.truth["sessions"] for cid in s["cli_session_ids"]}
    owned_laptops = {e["name"] for e in fleet.truth["endpoints"] if e["owner_subject"] == "s1"}
    out = {
        (s["endpoint"], s["session_id"])
        for s in fleet.truth["sessions"]
        if s["owner_subject"] == "s1" or s["endpoint"] in owned_laptops
    }
    for loc in fleet.truth["locations"]:
        if loc["subject"] == "s1" and loc["session_id"] and loc["kind"] != "prompt_history":
            key = (loc["endpoint"], loc["session_id"])
            out.add((key[0], alias.get(key, key[1])))
    return out


def test_dry_run_real_run_and_rerun(fleet: Fleet) -> None:
    """Dry run deletes nothing; the real run deletes exactly the expired sessions except held and frozen ones;
    a second run deletes nothing; the ledger verifies and every run is recorded with its policy version."""
    expired = fleet.expired()
    frozen = expired & _subject_sessions(fleet)
    free = sorted(expired - frozen)
    assert frozen and len(free) > 1, "the fleet must have expired sessions of both sorts"
    held_endpoint, held_session = free[0]
    settings = fleet.settings
    with session_scope(settings.database.url) as session:
        add_hold(
            session,
            settings,
            hold_id="LH-1",
            reason="pending litigation",
            case_reference="CASE-1",
            approver="general counsel",
            review_date=date(2027, 5, 1),
            endpoints=[held_endpoint],
            paths=[f"*{held_session}*"],
        )
    request_id = fleet.submit(RequestKind.ACCESS, received_at=REFERENCE - timedelta(days=3))

    dry = retention_purge(dry_run=True, as_of=REFERENCE)
    assert dry["outcome"] == "dry_run"
    assert dry["totals"]["purge"]["sessions"] == len(expired) - len(frozen) - 1
    assert dry["totals"]["retained"]["sessions"] == 1
    assert dry["totals"]["frozen"]["sessions"] == len(frozen)
    assert all(all(fleet.present(*key)) for key in expired)

    real = retention_purge(dry_run=False, as_of=REFERENCE)
    assert real["outcome"] == "complete", real["execution"]
    for session in fleet.truth["sessions"]:
        key = (session["endpoint"], session["session_id"])
        should_go = key in expired and key not in frozen and key != (held_endpoint, held_session)
        assert fleet.present(*key) == [not should_go] * len(session["paths"]), key

    again = retention_purge(dry_run=False, as_of=REFERENCE)
    assert again["totals"]["purge"] == {"sessions": 0, "files": 0, "lines": 0, "rows": 0, "bytes": 0}

    ledger = ledger_for(settings)
    assert ledger.verify().ok
    with session_scope(settings.database.url) as session:
        purges = session.exec(select(LedgerEntry).where(LedgerEntry.action == LedgerAction.PURGE.value)).all()
        assert len(purges) == len(free) - 1
        assert {p.policy_version for p in purges} == {"retention:agent-history@2026-1"}
        assert all(p.request_id is None for p in purges)
        runs = session.exec(select(RetentionRun).order_by(col(RetentionRun.id))).all()
        assert [(r.dry_run, r.outcome) for r in runs] == [(True, "dry_run"), (False, "complete"), (False, "complete")]
        assert json.loads(runs[1].policies) == {"agent-history": "2026-1"}
        counts = json.loads(runs[1].counts)
        assert counts["by_kind"]["session_record"]["purge"] > 0
        assert set(counts["by_location"]) <= {f"laptop-0{i}" for i in range(1, 5)}
        text = " ".join(r.counts for r in runs).lower()
        assert "angstrom" not in text and request_id not in text


def test_run_names_and_artifacts_carry_counts_only(fleet: Fleet) -> None:
    """Runs are named purge-dry-run-<date> / purge-<date>; the table artifact holds counts, no paths or ids."""
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey, FlowRunFilter, FlowRunFilterName

    fleet.submit(RequestKind.ACCESS, received_at=REFERENCE - timedelta(days=1))
    retention_purge(dry_run=True, as_of=REFERENCE)
    retention_purge(dry_run=False, policy="agent-history", as_of=REFERENCE)
    names = ["purge-dry-run-2026-11-01", "purge-2026-11-01"]
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=names)))
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["retention-dry-run", "retention-purge"]))
        )
    assert {r.name for r in runs} == set(names)
    with session_scope(fleet.settings.database.url) as session:
        run_ids = {r.run_id for r in session.exec(select(RetentionRun)).all()}
    assert run_ids <= {str(r.id) for r in runs} and len(run_ids) == 2
    assert artifacts
    text = json.dumps([a.data for a in artifacts], default=str).lower()
    subject = fleet.truth["subjects"][0]
    for needle in ["/users/", "/home/", "local_", subject["emails"][0], subject["name"].lower()]:
        assert needle not in text
    assert "session_record" in text and "frozen" in text


def test_reviewed_real_run_waits_for_the_approved_digest(fleet: Fleet) -> None:
    """With disposition review on, the real purge flow deletes nothing and returns the digest to approve; the
    approval of that digest by a named reviewer disposes of the expired sessions and writes the certificate."""
    from services.retention_runs import approve_purge

    fleet.config.write_text(
        fleet.config.read_text(encoding="utf-8").replace("review = false", "review = true"), encoding="utf-8"
    )
    expired = fleet.expired()
    waiting = retention_purge(dry_run=False, as_of=REFERENCE, wait_for_approval=False)
    assert waiting["outcome"] == "awaiting_approval"
    assert all(all(fleet.present(*key)) for key in expired)
    with pytest.raises(Exception, match="not the digest"):
        approve_purge(fleet.settings, waiting["run_id"], by="Dana Reviewer", digest="0" * 64)
    done = approve_purge(fleet.settings, waiting["run_id"], by="Dana Reviewer", digest=waiting["digest"])
    assert done["outcome"] == "complete"
    assert not any(any(fleet.present(*key)) for key in expired)
    certificate = json.loads(Path(done["certificate"]["json"]).read_text(encoding="utf-8"))
    assert certificate["approved_by"] == "Dana Reviewer"
    with session_scope(fleet.settings.database.url) as session:
        approved = session.exec(select(AuditEvent).where(AuditEvent.action == "retention.approved")).one()
    assert json.loads(approved.details)["authentication"] == "os_login"  # beside the typed name: the OS user
    assert json.loads(approved.details)["authenticated_user"]
    assert len(certificate["disposed"]) == len(expired)


def _paused_purge(not_digest: str | None, settings: Settings, deadline: float) -> str:
    """The id of the paused real purge run once it waits on a form for a digest other than `not_digest`."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    from services.retention_runs import pending_review

    while time.monotonic() < deadline:
        time.sleep(2)
        with get_client(sync_client=True) as client:
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=["purge-2026-11-01"]))
            )
        for run in runs:
            if run.state is None or not run.state.is_paused():
                continue
            try:
                digest = pending_review(settings, str(run.id))["digest"]
            except InputError:
                continue
            if digest != not_digest:
                return str(run.id)
    raise AssertionError("the purge run never paused on the review form")


def test_paused_purge_resumes_with_the_reviewed_digest_only(fleet: Fleet) -> None:
    """With disposition review on, the real purge pauses on the Prefect form and deletes nothing; resumed with a
    digest gone stale (a file changed since the review) it refuses, deletes nothing and asks again; resumed with
    the plan's current digest by a named reviewer it disposes of the expired sessions."""
    from prefect.flow_runs import resume_flow_run

    from services.retention_runs import pending_review

    fleet.config.write_text(
        fleet.config.read_text(encoding="utf-8").replace("review = false", "review = true"), encoding="utf-8"
    )
    settings = fleet.settings
    expired = fleet.expired()
    outcome: dict[str, object] = {}
    runner = threading.Thread(
        target=lambda: outcome.update(retention_purge(dry_run=False, as_of=REFERENCE)), daemon=True
    )
    runner.start()
    deadline = time.monotonic() + 240
    run_id = _paused_purge(None, settings, deadline)
    reviewed = pending_review(settings, run_id)["digest"]
    assert all(all(fleet.present(*key)) for key in expired)

    endpoint, session_id = sorted(expired)[0]
    session = next(s for s in fleet.truth["sessions"] if (s["endpoint"], s["session_id"]) == (endpoint, session_id))
    changed = fleet.root / endpoint / session["paths"][0].lstrip("/")
    stat = changed.stat()
    changed.write_bytes(changed.read_bytes() + b"\n")
    os.utime(changed, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    resume_flow_run(UUID(run_id), run_input={"reviewer": "Dana Reviewer", "digest": reviewed})
    assert _paused_purge(reviewed, settings, deadline) == run_id, "a stale digest re-opens the form"
    assert all(all(fleet.present(*key)) for key in expired), "nothing is deleted on a stale digest"
    with session_scope(settings.database.url) as db:
        purges = db.exec(select(LedgerEntry).where(LedgerEntry.action == LedgerAction.PURGE.value)).all()
        assert purges == []

    current = pending_review(settings, run_id)["digest"]
    resume_flow_run(UUID(run_id), run_input={"reviewer": "Dana Reviewer", "digest": current})
    runner.join(timeout=300)
    assert outcome.get("outcome") == "complete", outcome
    assert not any(any(fleet.present(*key)) for key in expired)
    certificate = json.loads(Path(str(outcome["certificate"]["json"])).read_text(encoding="utf-8"))  # type: ignore[index]
    assert certificate["approved_by"] == "Dana Reviewer" and certificate["plan_digest"] == current
    assert len(certificate["disposed"]) == len(expired)
