"""Retention purge runs: a dry run lists what would go (counts only), a real run deletes it with proofs.

Plain Python over the `retention` package (policies, plan, execution) and `models.holds`: pending plans of real
runs, resuming runs that died, run records. Returns counts per kind, location and policy, never paths of
personal files, identifiers or content; identifiers stay in-process.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from connectors.base import Connector
from connectors.registry import open_location
from detection.matcher import Matcher
from erasure.executor import ExecutionReport
from erasure.proof_path import path_digest, proof_path
from models.cases import record_event
from models.db import session_scope
from models.errors import InputError
from models.files import atomic_write, atomic_writer
from models.holds import Hold, active_holds, requests_with_hashes, subject_hashes_of_request
from models.identity_record import os_user
from models.lifecycle import OPEN_STATUSES
from models.server_auth import AUTH_OS_LOGIN
from models.settings import Settings
from models.tables import Request, RetentionRun, utcnow
from proofs.ledger import Ledger, LedgerAction, ProofRecord
from retention.execute import execute_purge
from retention.plan import PurgePlan, SubjectProbe, plan_purge
from retention.policies import select_policies
from services.access import ACCESS_KINDS
from services.disposal import build_disposal, write_disposal
from services.evidence import ledger_for
from services.subject import build_matcher

ACTOR = "retention-purge"
"""The acting identity of purge ledger entries and audit events."""


def run_name(dry_run: bool, on: datetime) -> str:
    """`purge-<date>` or `purge-dry-run-<date>`."""
    day = on.astimezone(UTC).date().isoformat()
    return f"purge-dry-run-{day}" if dry_run else f"purge-{day}"


def freeze_matchers(settings: Settings) -> tuple[dict[str, Matcher], list[str]]:
    """Matchers of every open access or portability request (the access freeze), and ids without identifiers."""
    with session_scope(settings.database.url) as session:
        ids = session.exec(
            select(Request.id).where(
                col(Request.kind).in_([k.value for k in ACCESS_KINDS]),
                col(Request.status).in_([s.value for s in OPEN_STATUSES]),
            )
        ).all()
    matchers: dict[str, Matcher] = {}
    missing: list[str] = []
    for request_id in sorted(ids):
        try:
            matchers[request_id] = build_matcher(settings, request_id)
        except InputError:
            missing.append(request_id)
    return matchers, missing


def hold_inputs(settings: Settings) -> tuple[list[Hold], list[SubjectProbe]]:
    """Active holds (configured and added) and matchers of the subjects they name, by request."""
    with session_scope(settings.database.url) as session:
        holds = active_holds(session, settings)
        wanted = {s.lower() for h in holds for s in h.subjects}
        requests = {rid: set(subject_hashes_of_request(session, rid)) for rid in requests_with_hashes(session, wanted)}
    probes: list[SubjectProbe] = []
    for request_id, hashes in sorted(requests.items()):
        try:
            matcher: Matcher | None = build_matcher(settings, request_id)
        except InputError:
            matcher = None  # identifiers pseudonymised: the hold keeps everything in its other scope dimensions
        probes.append(SubjectProbe(frozenset(hashes), matcher))
    return holds, probes


def pending_dir(settings: Settings) -> Path:
    """Where a real run keeps its plan while it executes (`.dsr/retention/`)."""
    return settings.state_dir / "retention"


@contextmanager
def pending_plan(settings: Settings, plan: PurgePlan, run_id: str) -> Iterator[Path]:
    """Keep the plan of a real run on disk (0600, locked) while it executes; removed when the block ends
    normally. A run that dies leaves it behind, unlocked, for `resume_pending` of the next real run."""
    directory = pending_dir(settings)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / (re.sub(r"[^A-Za-z0-9._-]", "-", run_id) + ".json")
    lock_fd: int | None = None
    try:
        with atomic_writer(path, mode=0o600) as fh:
            # Locked before it gets its visible name: a concurrent run never resumes a plan still executing.
            # The duplicate descriptor keeps the lock (it belongs to the open file) after the writer closes.
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            lock_fd = os.dup(fh.fileno())
            fh.write(plan.to_json().encode("utf-8"))
        yield path
        path.unlink(missing_ok=True)
    finally:
        if lock_fd is not None:
            os.close(lock_fd)


def resume_pending(
    settings: Settings, connectors: Callable[[str], Connector], *, run_id: str
) -> dict[str, dict[str, int]]:
    """Execute once more the plans of real runs that died before finishing, then drop them.

    A deletion done just before a crash is recognised and recorded (the executor's rerun rule); whatever is
    still left (busy, changed) is planned afresh by this run. Plans of runs still executing (locked) are
    left alone.

    Returns:
        Outcome counts per location of the resumed actions.
    """
    directory = pending_dir(settings)
    if not directory.is_dir():
        return {}
    ledger = ledger_for(settings)
    table: dict[str, Counter[str]] = {}
    for path in sorted(directory.glob("*.json")):
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue  # finished meanwhile
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            if not path.exists():
                continue
            plan = PurgePlan.from_json(path.read_text(encoding="utf-8"))
            report = execute_purge(plan, connectors=connectors, ledger=ledger, run_id=run_id, actor=ACTOR)
            for outcome in report.outcomes:
                table.setdefault(outcome.location, Counter())[outcome.status.value] += 1
            path.unlink(missing_ok=True)
        finally:
            os.close(fd)
    return {loc: dict(c) for loc, c in sorted(table.items())}


def _execution_counts(report: ExecutionReport | None) -> dict[str, dict[str, int]]:
    table: dict[str, Counter[str]] = {}
    for outcome in report.outcomes if report is not None else ():
        table.setdefault(outcome.location, Counter())[outcome.status.value] += 1
    return {loc: dict(c) for loc, c in sorted(table.items())}


def record_run(
    settings: Settings,
    *,
    run_id: str,
    dry_run: bool,
    plan: PurgePlan,
    report: ExecutionReport | None,
    started_at: datetime,
) -> str:
    """Store a `RetentionRun` row (counts per category and system, policy versions) and an audit event.

    Returns:
        The run's outcome: `dry_run`, `complete` or `partial` (something busy, changed or failed: the next
        run picks it up).
    """
    if dry_run:
        outcome = "dry_run"
    else:
        outcome = "complete" if report is not None and report.complete and not plan.unreached else "partial"
    counts = {**plan.counts(), "execution": _execution_counts(report)}
    with session_scope(settings.database.url) as session:
        session.add(
            RetentionRun(
                run_id=run_id,
                dry_run=dry_run,
                started_at=started_at,
                finished_at=utcnow(),
                policies=json.dumps(dict(plan.policies), sort_keys=True),
                counts=json.dumps(counts, sort_keys=True),
                outcome=outcome,
            )
        )
        record_event(
            session,
            "retention.dry_run" if dry_run else "retention.purge",
            actor=ACTOR,
            outcome=outcome,
            run_id=run_id,
            policies=dict(plan.policies),
            totals=plan.totals(),
        )
    return outcome


def plan_digest(plan: PurgePlan) -> str:
    """The digest a reviewer approves: the SHA-256 of the plan's JSON (paths, hashes, ids, as-of date)."""
    return hashlib.sha256(plan.to_json().encode("utf-8")).hexdigest()


def review_dir(settings: Settings) -> Path:
    """Where real runs wait for their disposition review (`.dsr/retention/review/`)."""
    return pending_dir(settings) / "review"


def _review_path(settings: Settings, run_id: str) -> Path:
    return review_dir(settings) / (re.sub(r"[^A-Za-z0-9._-]", "-", run_id) + ".json")


def make_plan(settings: Settings, *, policy: str | None, now: datetime) -> tuple[PurgePlan, list[str]]:
    """The purge plan at `now` with the holds and access freezes in force (the dry run's and the run's).

    Returns:
        The plan and the open access requests whose identifiers are no longer known.
    """
    select_policies(settings, policy)  # fail fast on an unknown name

    def connectors(name: str) -> Connector:
        return open_location(name, settings)

    frozen, unmatched = freeze_matchers(settings)
    holds, probes = hold_inputs(settings)
    plan = plan_purge(
        settings, connectors, now=now, frozen_matchers=frozen, holds=holds, subject_probes=probes, policy=policy
    )
    return plan, unmatched


def summary_of(plan: PurgePlan, *, run_id: str, dry_run: bool, outcome: str) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "dry_run": dry_run,
        "outcome": outcome,
        "as_of": plan.created_at.isoformat(),
        "digest": plan_digest(plan),
        "policies": dict(plan.policies),
        "totals": plan.totals(),
        "rows": plan.rows(),
        "unreached": [list(u) for u in plan.unreached],
        "ungrouped": len(plan.ungrouped),
        "partial_conversations": len(plan.partial),
        "execution": {},
        "resumed": {},
    }


def _record_kept_outside_plan(ledger: Ledger, plan: PurgePlan, run_id: str) -> None:
    """Ledger entries for what the run could not decide on: unreached locations and ungrouped files."""
    for location, status in plan.unreached:
        ledger.append(
            ProofRecord(
                action=LedgerAction.SKIP,
                run_id=run_id,
                location=location,
                outcome="unreachable",
                actor=ACTOR,
                policy_version="retention",
                details={"reason": "unreachable", "status": status},
            ),
            idempotency_key=f"retention:{run_id}:unreached:{location}",
        )
    for location, path, kind in plan.ungrouped:
        ledger.append(
            ProofRecord(
                action=LedgerAction.SKIP,
                run_id=run_id,
                location=location,
                path=proof_path(path),
                outcome="kept",
                actor=ACTOR,
                policy_version="retention",
                details={"reason": kept_unplanned_reason(kind), "kind": kind},
            ),
            idempotency_key=f"retention:{run_id}:ungrouped:{location}:{path_digest(path)}",
        )


def kept_unplanned_reason(kind: str) -> str:
    """Why a reported file stays: a database holding conversations as rows that the purge cannot change there,
    or a conversation's file that groups with no conversation."""
    if kind == "database":
        return (
            "conversations kept as rows of a database the purge cannot change here "
            "(not on a local disk, unreadable, or its rows name no conversation)"
        )
    return "not grouped with a conversation"


def _execute(
    settings: Settings, plan: PurgePlan, *, run_id: str, started_at: datetime, approved: tuple[str, str] | None
) -> dict[str, Any]:
    """Execute a plan (approved when review is on), seal the ledger, write the certificate, record the run."""

    def connectors(name: str) -> Connector:
        return open_location(name, settings)

    ledger = ledger_for(settings)
    digest = plan_digest(plan)
    if approved is not None:
        reviewer, approved_digest = approved
        ledger.append(
            ProofRecord(
                action=LedgerAction.APPROVE,
                run_id=run_id,
                outcome="approved",
                actor=reviewer,
                policy_version="retention",
                details={"plan_digest": approved_digest, "why": "retention"},
            ),
            idempotency_key=f"retention:{run_id}:approve:{approved_digest}",
        )
    with pending_plan(settings, plan, run_id):
        report = execute_purge(plan, connectors=connectors, ledger=ledger, run_id=run_id, actor=ACTOR)
    _record_kept_outside_plan(ledger, plan, run_id)
    if ledger.signer is not None:
        ledger.seal()
    document = build_disposal(
        ledger.entries(), run_id=run_id, as_of=plan.created_at, policies=dict(plan.policies), digest=digest
    )
    html_path, json_path = write_disposal(settings, document)
    outcome = record_run(settings, run_id=run_id, dry_run=False, plan=plan, report=report, started_at=started_at)
    summary = summary_of(plan, run_id=run_id, dry_run=False, outcome=outcome)
    summary["execution"] = _execution_counts(report)
    summary["certificate"] = {"html": str(html_path), "json": str(json_path)}
    summary["disposed_conversations"] = len(document["disposed"])
    return summary


def run_purge(
    settings: Settings,
    *,
    dry_run: bool,
    policy: str | None,
    now: datetime,
    run_id: str,
) -> dict[str, Any]:
    """Plan the purge and, unless `dry_run`, execute it (or, with disposition review on, keep the plan for a
    reviewer and delete nothing); record the run.

    A real run first finishes the saved plans of real runs that crashed (`resume_pending`), then saves its
    own plan until its execution returns, writes the certificate of disposal from its ledger entries.

    Returns:
        A summary of counts and ids only: run id, outcome (`dry_run`, `awaiting_approval`, `complete`,
        `partial`), the plan digest, policies, totals, rows, unreached locations.

    Raises:
        InputError: `policy` names no configured policy, or `now` is naive.
    """
    started_at = utcnow()
    select_policies(settings, policy)
    resumed: dict[str, dict[str, int]] = {}
    if not dry_run:
        resumed = resume_pending(settings, lambda name: open_location(name, settings), run_id=run_id)
    plan, unmatched = make_plan(settings, policy=policy, now=now)
    if dry_run:
        outcome = record_run(settings, run_id=run_id, dry_run=True, plan=plan, report=None, started_at=started_at)
        summary = summary_of(plan, run_id=run_id, dry_run=True, outcome=outcome)
    elif settings.disposition.review:
        directory = review_dir(settings)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        body = {"run_id": run_id, "policy": policy, "as_of": now.isoformat(), "digest": plan_digest(plan)}
        atomic_write(_review_path(settings, run_id), json.dumps(body, sort_keys=True), mode=0o600)
        with session_scope(settings.database.url) as session:
            record_event(
                session,
                "retention.awaiting_approval",
                actor=ACTOR,
                outcome="pending",
                run_id=run_id,
                policies=dict(plan.policies),
                totals=plan.totals(),
            )
        summary = summary_of(plan, run_id=run_id, dry_run=False, outcome="awaiting_approval")
    else:
        summary = _execute(settings, plan, run_id=run_id, started_at=started_at, approved=None)
    summary["frozen_requests_without_identifiers"] = unmatched
    summary["resumed"] = resumed
    return summary


def pending_review(settings: Settings, run_id: str) -> dict[str, Any]:
    """The saved review of a real run awaiting approval (run id, policy, as-of date, digest).

    Raises:
        InputError: no run of this id awaits approval.
    """
    path = _review_path(settings, run_id)
    try:
        body: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            f"no purge run {run_id!r} awaits approval; start one with `dsr retention run`", run_id=run_id
        ) from None
    return body


def approve_purge(
    settings: Settings, run_id: str, *, by: str, digest: str, authentication: str = AUTH_OS_LOGIN
) -> dict[str, Any]:
    """A named reviewer approves the plan of a real run by its digest; the run then executes. The audit event
    records the name as typed beside the authenticated OS user and how the decision was authenticated.

    The plan is made again for the run's policy and as-of date: if anything changed since the review (a file,
    a hold, a freeze), its digest differs and the approval is refused as stale; nothing is deleted.

    Raises:
        InputError: no such run awaits approval, or `digest` is not the plan's current digest.
    """
    started_at = utcnow()
    saved = pending_review(settings, run_id)
    digest = digest.strip().lower()
    if digest != saved["digest"]:
        raise InputError(
            f"digest {digest[:12]} is not the digest of run {run_id!r}; approve the digest `dsr retention plan` shows",
            run_id=run_id,
        )
    plan, _ = make_plan(settings, policy=saved["policy"], now=datetime.fromisoformat(saved["as_of"]))
    current = plan_digest(plan)
    if current != digest:
        # The reviewer must see the plan as it is now: only its new digest can be approved from here on.
        atomic_write(
            _review_path(settings, run_id), json.dumps({**saved, "digest": current}, sort_keys=True), mode=0o600
        )
        raise InputError(
            f"stale digest: the plan of run {run_id!r} changed since it was reviewed (now {current}); "
            "review it again with `dsr retention plan` and approve the new digest",
            run_id=run_id,
        )
    with session_scope(settings.database.url) as session:
        record_event(
            session,
            "retention.approved",
            actor=by,
            outcome="approved",
            run_id=run_id,
            digest=digest,
            authenticated_user=os_user(),
            authentication=authentication,
        )
    summary = _execute(settings, plan, run_id=run_id, started_at=started_at, approved=(by, digest))
    _review_path(settings, run_id).unlink(missing_ok=True)
    return summary
