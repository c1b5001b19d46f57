"""Retention purge planning and execution over a simulated fleet, checked against the generator's dates."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from connectors.registry import open_location
from erasure.executor import ActionStatus
from models.errors import ConfigError, InputError
from models.holds import Hold
from models.settings import EndpointSettings, RetentionPolicy
from proofs.ledger import Ledger, LedgerAction
from proofs.store import JsonlLedgerStore
from retention.execute import execute_purge
from retention.plan import PurgeCandidate, PurgePlan, PurgeStatus, SubjectProbe, plan_purge
from retention.policies import is_expired
from tests.unit.erasure.fleet import subject_matcher
from tests.unit.retention.conftest import REFERENCE, Fleet, make_fleet, parse, with_policies


def _laptop_file(fleet: Fleet, endpoint: str, path: str) -> Path:
    return fleet.root / endpoint / path.lstrip("/")


def _sessions(candidates: Iterable[PurgeCandidate], status: PurgeStatus) -> set[tuple[str, str]]:
    return {
        (c.location, c.session_id) for c in candidates if c.unit == "session" and c.status is status and c.session_id
    }


def _ledger(tmp_path: Path) -> Ledger:
    return Ledger(JsonlLedgerStore(tmp_path / "ledger.jsonl"), signer=None)


@pytest.mark.parametrize("days", [90, 365, 730], ids=["90d", "365d", "730d"])
def test_plan_selects_exactly_sessions_past_their_period(tmp_path: Path, days: int) -> None:
    """The plan lists exactly the generator's sessions whose last activity is at least the period ago."""
    fleet = make_fleet(tmp_path / "fleet", days=days, seed=11)
    plan = plan_purge(fleet.settings, fleet.connectors(), now=REFERENCE)
    expected = fleet.expired(days)
    assert expected, "the fleet must have sessions past the period"
    assert len(expected) < len(fleet.sessions()), "and sessions within it"
    assert _sessions(plan.candidates, PurgeStatus.PURGE) == expected
    assert not [c for c in plan.candidates if c.unit == "file"]


def test_plan_session_files_match_generator_paths(fleet: Fleet) -> None:
    """A purged session covers every file the generator wrote for it, and its age is the doc's rule."""
    plan = plan_purge(fleet.settings, fleet.connectors(), now=REFERENCE)
    truth = {(s["endpoint"], s["session_id"]): s for s in fleet.sessions()}
    for cand in plan.with_status(PurgeStatus.PURGE):
        session = truth[(cand.location, cand.session_id or "")]
        assert {f.path for f in cand.files} == set(session["paths"])
        assert cand.reference_at == parse(session["last_activity_at"])
        assert all(f.sha256 is not None or f.kind == "audit_key" for f in cand.files)


def test_real_run_deletes_expired_sessions_and_second_run_nothing(fleet: Fleet, tmp_path: Path) -> None:
    """A real run deletes the expired sessions only, writes verifiable purge entries; a rerun deletes nothing."""
    plan = plan_purge(fleet.settings, fleet.connectors(), now=REFERENCE)
    ledger = _ledger(tmp_path)
    report = execute_purge(plan, connectors=fleet.connectors(), ledger=ledger, run_id="purge-2026-11-01", actor="t")
    assert report.complete
    expired = fleet.expired(365)
    for session in fleet.sessions():
        gone = (session["endpoint"], session["session_id"]) in expired
        for path in session["paths"]:
            assert _laptop_file(fleet, session["endpoint"], path).exists() is not gone, path
    entries = list(ledger.entries())
    assert len(entries) == len(expired)
    assert {e.record.action for e in entries} == {LedgerAction.PURGE}
    assert {e.record.details["operation"] for e in entries} == {"delete_session"}
    assert {e.record.policy_version for e in entries} == {"retention:history@3"}
    assert all(e.record.request_id is None for e in entries)
    assert ledger.verify().ok

    again = plan_purge(fleet.settings, fleet.connectors(), now=REFERENCE)
    assert again.candidates == ()
    second = execute_purge(again, connectors=fleet.connectors(), ledger=ledger, run_id="purge-2", actor="t")
    assert second.outcomes == ()
    assert len(list(ledger.entries())) == len(entries)


def test_plan_read_back_knows_no_file_times_and_still_runs(fleet: Fleet, tmp_path: Path) -> None:
    """A purge plan read back from its JSON (a reviewed or a crashed run's plan) carries no file mtime, so
    no age can be judged from it, and it deletes exactly the expired sessions."""
    plan = PurgePlan.from_json(plan_purge(fleet.settings, fleet.connectors(), now=REFERENCE).to_json())
    files = [f for cand in plan.candidates for f in cand.files]
    assert files and all(f.mtime is None for f in files)
    with pytest.raises(ValueError, match="modification time"):
        _ = files[0].modified_at
    ledger = _ledger(tmp_path)
    report = execute_purge(plan, connectors=fleet.connectors(), ledger=ledger, run_id="purge-read-back", actor="t")
    assert report.complete
    expired = fleet.expired(365)
    for session in fleet.sessions():
        gone = (session["endpoint"], session["session_id"]) in expired
        for path in session["paths"]:
            assert _laptop_file(fleet, session["endpoint"], path).exists() is not gone, path
    assert len(list(ledger.entries())) == len(expired) and ledger.verify().ok


def test_held_session_is_retained_and_recorded(fleet: Fleet, tmp_path: Path) -> None:
    """A hold whose path glob covers one expired session keeps it (reported retained with the hold id)."""
    expired = sorted(fleet.expired(365))
    endpoint, session_id = expired[0]
    hold = Hold(
        id="LH-1",
        reason="litigation",
        case_reference="CASE-7",
        approver="legal",
        review_date=date(2027, 1, 1),
        endpoints=(endpoint,),
        paths=(f"*{session_id}*",),
    )
    plan = plan_purge(fleet.settings, fleet.connectors(), now=REFERENCE, holds=[hold])
    assert _sessions(plan.candidates, PurgeStatus.RETAINED) == {(endpoint, session_id)}
    assert {c.hold_id for c in plan.with_status(PurgeStatus.RETAINED)} == {"LH-1"}
    assert _sessions(plan.candidates, PurgeStatus.PURGE) == set(expired) - {(endpoint, session_id)}
    ledger = _ledger(tmp_path)
    report = execute_purge(plan, connectors=fleet.connectors(), ledger=ledger, run_id="purge-a", actor="t")
    assert ActionStatus.RECORDED in {o.status for o in report.outcomes}
    held = next(s for s in fleet.sessions() if s["session_id"] == session_id)
    assert all(_laptop_file(fleet, endpoint, p).exists() for p in held["paths"])
    exceptions = [e.record for e in ledger.entries() if e.record.action is LedgerAction.EXCEPTION]
    assert [(r.exception_ground, r.details["hold_id"]) for r in exceptions] == [("legal_claims", "LH-1")]

    # Released: the next run processes it.
    released = Hold(**{**hold.__dict__, "released_at": REFERENCE})
    after = plan_purge(fleet.settings, fleet.connectors(), now=REFERENCE, holds=[released])
    assert _sessions(after.candidates, PurgeStatus.PURGE) == {(endpoint, session_id)}


@pytest.mark.parametrize(
    ("date_from", "date_to", "covers"),
    [
        (date(2020, 1, 1), date(2030, 1, 1), True),
        (date(2026, 10, 30), None, False),
        (None, date(2020, 1, 1), False),
    ],
    ids=["range-covers", "after-session", "before-session"],
)
def test_hold_date_range_scopes_by_session_activity(
    fleet: Fleet, date_from: date | None, date_to: date | None, covers: bool
) -> None:
    """A hold's date range covers the sessions whose activity overlaps it, and only those."""
    hold = Hold("LH-2", "r", "c", "a", date(2027, 1, 1), date_from=date_from, date_to=date_to)
    plan = plan_purge(fleet.settings, fleet.connectors(), now=REFERENCE, holds=[hold])
    retained = _sessions(plan.candidates, PurgeStatus.RETAINED)
    assert retained == (fleet.expired(365) if covers else set())


def test_subject_hold_keeps_only_that_subjects_sessions(fleet: Fleet) -> None:
    """A hold scoped to a subject retains the expired sessions that concern them (owned or naming them)."""
    hold = Hold("LH-3", "r", "c", "a", date(2027, 1, 1), subjects=("aa" * 32,))
    probe = SubjectProbe(frozenset({"aa" * 32}), subject_matcher(fleet.truth))
    plan = plan_purge(fleet.settings, fleet.connectors(), now=REFERENCE, holds=[hold], subject_probes=[probe])
    retained = _sessions(plan.candidates, PurgeStatus.RETAINED)
    owned = {(s["endpoint"], s["session_id"]) for s in fleet.sessions() if s["owner_subject"] == "s1"}
    assert owned & fleet.expired(365) <= retained
    assert retained < fleet.expired(365), "sessions of other people are not held"

    unknown = Hold("LH-4", "r", "c", "a", date(2027, 1, 1), subjects=("bb" * 32,))
    plan = plan_purge(fleet.settings, fleet.connectors(), now=REFERENCE, holds=[unknown], subject_probes=[probe])
    assert _sessions(plan.candidates, PurgeStatus.RETAINED) == fleet.expired(365), "unknown subject: keep"


def test_open_access_request_freezes_its_subjects_sessions(fleet: Fleet, tmp_path: Path) -> None:
    """Sessions of a subject with an open access request are frozen, not deleted; the rest go."""
    matcher = subject_matcher(fleet.truth)
    plan = plan_purge(fleet.settings, fleet.connectors(), now=REFERENCE, frozen_matchers={"DSR-2026-0001": matcher})
    frozen = _sessions(plan.candidates, PurgeStatus.FROZEN)
    owned = {(s["endpoint"], s["session_id"]) for s in fleet.sessions() if s["owner_subject"] == "s1"}
    assert owned & fleet.expired(365) <= frozen
    assert frozen < fleet.expired(365)
    assert {c.frozen_by for c in plan.with_status(PurgeStatus.FROZEN)} == {"DSR-2026-0001"}
    execute_purge(plan, connectors=fleet.connectors(), ledger=_ledger(tmp_path), run_id="purge-f", actor="t")
    for session in fleet.sessions():
        if (session["endpoint"], session["session_id"]) in frozen:
            assert all(_laptop_file(fleet, session["endpoint"], p).exists() for p in session["paths"])


def test_busy_endpoint_is_left_alone(fleet: Fleet, tmp_path: Path) -> None:
    """While the agent app runs on a laptop nothing there is deleted; the outcome is busy."""
    (fleet.root / "laptop-02" / ".dsr-simulated-busy").write_text("", encoding="utf-8")
    plan = plan_purge(fleet.settings, fleet.connectors(), now=REFERENCE)
    report = execute_purge(plan, connectors=fleet.connectors(), ledger=_ledger(tmp_path), run_id="p", actor="t")
    busy = {o.location for o in report.outcomes if o.status is ActionStatus.BUSY}
    assert busy == {"laptop-02"}
    for cand in plan.candidates:
        if cand.location == "laptop-02":
            assert all(_laptop_file(fleet, "laptop-02", f.path).exists() for f in cand.files)


def test_per_kind_policy_deletes_files_not_sessions(fleet: Fleet) -> None:
    """A policy over uploads by file age lists only upload files whose mtime is past the period."""
    policy = RetentionPolicy(name="uploads", kinds=["upload"], period_days=400, trigger="file_age")
    settings = with_policies(fleet.settings, policy)
    plan = plan_purge(settings, fleet.connectors(), now=REFERENCE)
    assert plan.candidates
    assert {c.unit for c in plan.candidates} == {"file"}
    assert {f.kind for c in plan.candidates for f in c.files} == {"upload"}
    uploads = [p for p in fleet.root.glob("laptop-*/**/uploads/*") if p.is_file()]
    old = {
        str(p.relative_to(fleet.root))
        for p in uploads
        if datetime.fromtimestamp(p.stat().st_mtime, tz=UTC) + timedelta(days=400) <= REFERENCE
    }
    assert {c.location + c.path for c in plan.candidates} == old


def test_memory_notes_age_by_mtime(fleet: Fleet) -> None:
    """Memory notes have no timestamps: their mtime decides."""
    memory = sorted(p for p in fleet.root.glob("laptop-01/**/local-agent-mode-sessions/**/memory/*.md"))
    old = memory[0]
    stamp = (REFERENCE - timedelta(days=100)).timestamp()
    os.utime(old, (stamp, stamp))
    policy = RetentionPolicy(name="notes", kinds=["memory"], period_days=90)
    plan = plan_purge(with_policies(fleet.settings, policy), fleet.connectors(), now=REFERENCE)
    paths = {c.location + c.path for c in plan.candidates}
    assert paths == {str(old.relative_to(fleet.root))}
    assert all(c.policy == "notes" and c.unit == "file" for c in plan.candidates)


def test_group_policy_applies_only_to_its_group(fleet: Fleet) -> None:
    """A policy with an endpoint group applies to endpoints of that group only."""
    endpoints = [
        ep.model_copy(update={"group": "legal"}) if ep.name == "laptop-02" else ep for ep in fleet.settings.endpoints
    ]
    policy = RetentionPolicy(name="legal", kinds=["session_record"], period_days=1, endpoint_group="legal")
    settings = with_policies(fleet.settings, policy, endpoints=endpoints)
    plan = plan_purge(settings, fleet.connectors(), now=REFERENCE)
    assert plan.candidates
    assert {c.location for c in plan.candidates} == {"laptop-02"}


def test_plan_counts_carry_no_personal_data(fleet: Fleet) -> None:
    """Counts per kind, location and policy name no identifiers of the planted subject."""
    plan = plan_purge(
        fleet.settings, fleet.connectors(), now=REFERENCE, frozen_matchers={"R": subject_matcher(fleet.truth)}
    )
    text = json.dumps([plan.counts(), plan.rows()], ensure_ascii=False).lower()
    subject = fleet.truth["subjects"][0]
    for value in [subject["name"], *subject["emails"], *subject["phones"], *subject["user_ids"]]:
        assert value.lower() not in text
    assert plan.counts()["by_policy"]["history"]["purge"] > 0


@pytest.mark.parametrize(
    ("trigger", "reference", "days", "expired"),
    [
        ("last_activity", datetime(2025, 11, 1, tzinfo=UTC), 365, True),
        ("last_activity", datetime(2025, 11, 2, tzinfo=UTC), 365, False),
        ("end_of_year", datetime(2026, 1, 5, tzinfo=UTC), 0, False),
        ("end_of_year", datetime(2025, 12, 31, tzinfo=UTC), 300, True),
        ("end_of_year", datetime(2025, 12, 31, tzinfo=UTC), 305, False),
    ],
    ids=["exactly-period", "one-day-short", "same-year", "after-year-end", "year-end-not-reached"],
)
def test_is_expired_by_trigger(trigger: str, reference: datetime, days: int, expired: bool) -> None:
    """The period runs from the reference instant, or from the end of its calendar year."""
    policy = RetentionPolicy(name="p", kinds=["transcript"], period_days=days, trigger=trigger)  # type: ignore[arg-type]
    assert is_expired(policy, reference, REFERENCE) is expired


def test_unknown_policy_and_naive_time_are_refused(fleet: Fleet) -> None:
    """Naming an unknown policy or passing a naive time raises InputError."""
    with pytest.raises(InputError, match="no retention policy named"):
        plan_purge(fleet.settings, fleet.connectors(), now=REFERENCE, policy="nope")
    with pytest.raises(InputError):
        plan_purge(fleet.settings, fleet.connectors(), now=REFERENCE.replace(tzinfo=None))


def _history_stamps(path: Path) -> list[tuple[int, datetime | None]]:
    out: list[tuple[int, datetime | None]] = []
    for number, raw in enumerate(path.read_bytes().split(b"\n"), start=1):
        if raw.strip():
            value = json.loads(raw)
            out.append((number, datetime.fromtimestamp(value["timestamp"] / 1000, tz=UTC)))
    return out


def test_redact_policy_drops_only_expired_history_records(fleet: Fleet, tmp_path: Path) -> None:
    """A redact policy over prompt history drops exactly the records past the period (the whole file when all
    are); a rerun finds nothing."""
    days = 500
    policy = RetentionPolicy(name="prompts", kinds=["prompt_history"], period_days=days, action="redact")
    settings = with_policies(fleet.settings, policy)
    files = sorted(fleet.root.glob("laptop-*/**/.claude/history.jsonl"))
    before = {f: _history_stamps(f) for f in files}
    expected = {
        f: [n for n, at in stamps if at is not None and at + timedelta(days=days) <= REFERENCE]
        for f, stamps in before.items()
    }
    partial = [f for f in files if expected[f] and len(expected[f]) < len(before[f])]
    whole = [f for f in files if expected[f] and len(expected[f]) == len(before[f])]
    assert partial and whole, "the fleet must have history files with old and recent records, and only old ones"
    plan = plan_purge(settings, fleet.connectors(), now=REFERENCE)
    by_path = {fleet.root / c.location / c.path.lstrip("/"): c for c in plan.candidates}
    assert set(by_path) == set(partial) | set(whole)
    for f in partial:
        assert by_path[f].unit == "lines" and list(by_path[f].lines) == expected[f]
    assert {by_path[f].unit for f in whole} == {"file"}
    assert plan.totals()["purge"]["lines"] == sum(len(expected[f]) for f in partial)

    ledger = _ledger(tmp_path)
    report = execute_purge(plan, connectors=fleet.connectors(), ledger=ledger, run_id="purge-l", actor="t")
    assert report.complete
    for f in partial:
        kept = [at for _, at in _history_stamps(f)]
        assert len(kept) == len(before[f]) - len(expected[f])
        assert all(at is not None and at + timedelta(days=days) > REFERENCE for at in kept)
    assert not any(f.exists() for f in whole)
    operations = sorted(str(e.record.details["operation"]) for e in ledger.entries())
    assert operations == sorted(["drop_lines"] * len(partial) + ["delete_file"] * len(whole))
    assert ledger.verify().ok
    again = plan_purge(settings, fleet.connectors(), now=REFERENCE)
    assert again.candidates == ()


def test_redact_policy_on_session_kinds_is_a_config_error(fleet: Fleet) -> None:
    """Redact applies to timestamped records only: a redact policy over transcripts is refused."""
    policy = RetentionPolicy(name="bad", kinds=["transcript"], period_days=30, action="redact")
    with pytest.raises(ConfigError, match="redact"):
        plan_purge(with_policies(fleet.settings, policy), fleet.connectors(), now=REFERENCE)


def test_changed_history_file_is_a_conflict(fleet: Fleet, tmp_path: Path) -> None:
    """A history file appended to after planning is left alone (conflict), and the next plan picks it up."""
    policy = RetentionPolicy(name="prompts", kinds=["prompt_history"], period_days=500, action="redact")
    settings = with_policies(fleet.settings, policy)
    plan = plan_purge(settings, fleet.connectors(), now=REFERENCE)
    target = next(c for c in plan.candidates if c.unit == "lines")
    path = fleet.root / target.location / target.path.lstrip("/")
    with path.open("ab") as fh:
        fh.write(b'{"display":"later","timestamp":1790000000000}\n')
    snapshot = path.read_bytes()
    report = execute_purge(plan, connectors=fleet.connectors(), ledger=_ledger(tmp_path), run_id="p", actor="t")
    assert {o.status for o in report.outcomes if o.path == target.path} == {ActionStatus.CONFLICT}
    assert path.read_bytes() == snapshot


def test_unusable_endpoint_is_reported_unreached(fleet: Fleet) -> None:
    """An endpoint that cannot be opened is listed as unreached; the others are still planned."""
    broken = EndpointSettings(name="laptop-ssh", url="ssh://ana@127.0.0.1:1")
    settings = fleet.settings.model_copy(update={"endpoints": [*fleet.settings.endpoints, broken]})
    plan = plan_purge(settings, lambda name: open_location(name, settings), now=REFERENCE)
    assert plan.unreached == (("laptop-ssh", "config_error"),)
    assert _sessions(plan.candidates, PurgeStatus.PURGE) == fleet.expired(365)
    assert plan.counts()["unreached"] == [["laptop-ssh", "config_error"]]
