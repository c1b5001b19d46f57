"""The erasure request as plain functions: discover, plan, decide, execute, verify (the certificate is in
`services.certificates`).

Flows and the CLI call these; tests call them without Prefect. Discoveries (which carry copies of the subject's records)
are kept only encrypted in the request's private staging directory; the plan, the ledger and everything
returned to a flow hold locations, line numbers, hashes and counts only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from connectors.base import Connector, VersionedStore
from connectors.registry import open_location
from detection.matcher import Matcher
from erasure.discovery import LocationDiscovery, discover_endpoint, discover_store
from erasure.executor import ExecutionReport, execute_plan
from erasure.plan import ErasurePlan, plan_erasure
from erasure.proof_path import proof_path
from erasure.verify import VerificationResult, verify_erasure
from models import cases
from models.db import session_scope
from models.errors import ApprovalRequiredError, ConnectorError, DsrError, InputError
from models.holds import active_holds, as_settings
from models.run_lock import check_open
from models.settings import Settings
from models.tables import ErasurePlanRecord, LocationScan, RecipientNotice, utcnow
from models.types import LocationStatus, RequestKind, RequestStatus
from services.evidence import ledger_for
from services.staging import load_discovery, save_discovery, staging_dir
from services.subject import build_matcher, request_key

DISCOVERY = "erasure"
VERIFY = "verify"


@dataclass(frozen=True, slots=True)
class PlanState:
    """Where the request's erasure plan stands (no personal data)."""

    request_id: str
    digest: str | None
    decision: str | None
    summary: tuple[dict[str, Any], ...]
    executed: bool


def begin_erasure(settings: Settings, request_id: str) -> list[str]:
    """Move the request to in_progress (if new) and give every location a status row; returns those to scan."""
    with session_scope(settings.database.url) as session:
        cases.sync_locations(session, settings)
        request = cases.get_request(session, request_id)
        if RequestKind(request.kind) is not RequestKind.ERASURE:
            raise InputError(f"request {request_id} is a {request.kind} request, not erasure")
        check_open(request)
        if RequestStatus(request.status) in (RequestStatus.RECEIVED, RequestStatus.IDENTITY_PENDING):
            cases.transition(session, request, RequestStatus.IN_PROGRESS, action="erasure.started")
        existing = {s.location: s for s in cases.location_scans(session, request_id) if s.phase == DISCOVERY}
        names = [e.name for e in settings.endpoints] + [s.name for s in settings.stores]
        for name in names:
            if name not in existing:
                session.add(LocationScan(request_id=request_id, location=name, phase=DISCOVERY, status="pending"))
        return names


def _staging_file(settings: Settings, request_id: str, phase: str, location: str) -> Path:
    return staging_dir(settings, request_id) / f"{phase}-{location}.json.enc"


def _discover(settings: Settings, location: str, matcher: Matcher) -> LocationDiscovery:
    with open_location(location, settings) as connector:
        if isinstance(connector, VersionedStore):
            return discover_store(connector, matcher)
        owners = [e.owner for e in settings.endpoints if e.name == location and e.owner]
        return discover_endpoint(connector, location, matcher, owner_ids=owners, classify=True)


def discover_location(settings: Settings, request_id: str, location: str, *, phase: str = DISCOVERY) -> str:
    """Scan one location for the erasure (or its verification) and record its status; returns the status."""
    now = utcnow()
    reason: str | None
    try:
        matcher = build_matcher(settings, request_id)
        discovery = _discover(settings, location, matcher)
    except ConnectorError as exc:
        # A message may name a path that is not UTF-8: stored in its escaped form (`\xNN`).
        status, reason, findings = exc.status.value, proof_path(f"{type(exc).__name__}: {exc}"), 0
    except DsrError as exc:
        status, reason, findings = LocationStatus.FAILED.value, proof_path(f"{type(exc).__name__}: {exc}"), 0
    except Exception as exc:  # noqa: BLE001 - a location's failure is recorded whatever it is (an honest status)
        status, reason, findings = LocationStatus.FAILED.value, f"unexpected {type(exc).__name__}", 0
    else:
        save_discovery(
            _staging_file(settings, request_id, phase, location),
            discovery.without_content(),
            request_key(settings, request_id),
        )
        status, reason, findings = LocationStatus.SCANNED.value, None, len(discovery.items)
    with session_scope(settings.database.url) as session:
        scan = session.exec(
            select(LocationScan).where(
                LocationScan.request_id == request_id, LocationScan.location == location, LocationScan.phase == phase
            )
        ).first() or LocationScan(request_id=request_id, location=location, phase=phase, status="pending")
        scan.attempts += 1
        scan.first_attempt_at = scan.first_attempt_at or now
        scan.last_attempt_at = now
        scan.status, scan.reason, scan.findings = status, reason, findings
        if status == LocationStatus.SCANNED:
            scan.completed_at = utcnow()
        session.add(scan)
        cases.record_event(
            session, f"erasure.{phase}_scanned", request_id=request_id, outcome=status, location=location
        )
    return status


def _discoveries(settings: Settings, request_id: str, phase: str) -> list[LocationDiscovery]:
    key = request_key(settings, request_id)
    root = staging_dir(settings, request_id)
    return [load_discovery(path, key) for path in sorted(root.glob(f"{phase}-*.json.enc"))]


def _subject_hashes(settings: Settings, request_id: str) -> set[str]:
    with session_scope(settings.database.url) as session:
        return {row.keyed_hash for row in cases.identifiers_of(session, request_id)} | {request_id}


def pending_locations(settings: Settings, request_id: str, phase: str = DISCOVERY) -> list[str]:
    """Locations of the phase that are not accounted for yet (asleep or busy laptops)."""
    with session_scope(settings.database.url) as session:
        return [
            s.location
            for s in cases.location_scans(session, request_id)
            if s.phase == phase and not LocationStatus(s.status).is_final
        ]


def make_plan(settings: Settings, request_id: str, *, now: datetime | None = None) -> PlanState:
    """Plan the erasure from the staged discoveries, store it (no personal data) and await approval."""
    with session_scope(settings.database.url) as session:
        holds = [as_settings(h) for h in active_holds(session, settings)]
    plan = plan_erasure(
        request_id,
        _discoveries(settings, request_id, DISCOVERY),
        settings=settings.erasure,
        holds=holds,
        subject_hashes=_subject_hashes(settings, request_id),
        now=now or utcnow(),
    )
    with session_scope(settings.database.url) as session:
        request = cases.get_request(session, request_id)
        session.add(
            ErasurePlanRecord(
                request_id=request_id,
                digest=plan.digest,
                plan_json=plan.to_json(),
                summary_json=json.dumps(plan.summary()),
            )
        )
        if RequestStatus(request.status) is RequestStatus.IN_PROGRESS:
            cases.transition(
                session, request, RequestStatus.AWAITING_APPROVAL, action="erasure.planned", plan_digest=plan.digest
            )
    return plan_state(settings, request_id)


def latest_plan(settings: Settings, request_id: str) -> ErasurePlanRecord | None:
    """The newest stored plan of a request."""
    with session_scope(settings.database.url) as session:
        return session.exec(
            select(ErasurePlanRecord)
            .where(ErasurePlanRecord.request_id == request_id)
            .order_by(col(ErasurePlanRecord.id).desc())
            .limit(1)
        ).first()


def plan_state(settings: Settings, request_id: str) -> PlanState:
    """The newest plan's digest, decision and summary."""
    record = latest_plan(settings, request_id)
    if record is None:
        return PlanState(request_id, None, None, (), False)
    return PlanState(
        request_id,
        record.digest,
        record.decision,
        tuple(json.loads(record.summary_json)),
        record.executed_at is not None,
    )


def decide(settings: Settings, request_id: str, *, approved: bool, reviewer: str, note: str | None = None) -> PlanState:
    """Record a named reviewer's decision on the newest pending plan (audit trail: who, when, note).

    A rejection touches nothing and returns the request to in_progress.

    Raises:
        ApprovalRequiredError: there is no plan waiting for a decision.
        InputError: no reviewer name.
    """
    if not reviewer.strip():
        raise InputError("--by must name the reviewer who decides on the plan")
    with session_scope(settings.database.url) as session:
        request = cases.get_request(session, request_id)
        record = session.exec(
            select(ErasurePlanRecord)
            .where(ErasurePlanRecord.request_id == request_id)
            .order_by(col(ErasurePlanRecord.id).desc())
            .limit(1)
        ).first()
        if record is None or record.decision != "pending":
            raise ApprovalRequiredError(
                f"request {request_id} has no erasure plan awaiting a decision; run `dsr request run {request_id}`",
                request_id=request_id,
            )
        record.decision = "approved" if approved else "rejected"
        record.decided_by, record.decided_at, record.note = reviewer.strip(), utcnow(), note
        session.add(record)
        if approved:
            cases.transition(
                session,
                request,
                RequestStatus.EXECUTING,
                action="erasure.approved",
                actor=reviewer.strip(),
                plan_digest=record.digest,
            )
        else:
            cases.transition(
                session,
                request,
                RequestStatus.IN_PROGRESS,
                action="erasure.rejected",
                actor=reviewer.strip(),
                plan_digest=record.digest,
            )
    return plan_state(settings, request_id)


def approved_plan(settings: Settings, request_id: str) -> ErasurePlan:
    """The approved, not yet executed plan.

    Raises:
        ApprovalRequiredError: the newest plan is not approved (nothing may be touched).
    """
    record = latest_plan(settings, request_id)
    if record is None or record.decision != "approved":
        raise ApprovalRequiredError(
            f"request {request_id}: erasure needs an approved plan (dsr request approve {request_id} --by NAME)",
            request_id=request_id,
        )
    return ErasurePlan.from_json(record.plan_json)


def _connectors(settings: Settings) -> Callable[[str], Connector]:
    return lambda name: open_location(name, settings)


def execute_location(
    settings: Settings, request_id: str, location: str, *, run_id: str, kill_hook: Callable[[str], None] | None = None
) -> ExecutionReport:
    """Carry out the approved plan's actions at one location (compare-and-swap, busy check, proofs)."""
    plan = approved_plan(settings, request_id)
    record = latest_plan(settings, request_id)
    actor = record.decided_by if record and record.decided_by else cases.current_actor()
    part = ErasurePlan(
        request_id=plan.request_id,
        created_at=plan.created_at,
        mainly_about_share=plan.mainly_about_share,
        actions=tuple(a for a in plan.actions if a.location == location),
    )
    return execute_plan(
        part,
        connectors=_connectors(settings),
        matcher=build_matcher(settings, request_id),
        ledger=ledger_for(settings),
        run_id=run_id,
        actor=actor,
        kill_hook=kill_hook,
    )


def plan_locations(settings: Settings, request_id: str) -> list[str]:
    """Locations the approved plan acts on, plus `vendor` when it lists vendor-side copies (recorded only)."""
    plan = approved_plan(settings, request_id)
    names = {e.name for e in settings.endpoints} | {s.name for s in settings.stores} | {"vendor"}
    return sorted({a.location for a in plan.actions if a.location in names})


def verify(settings: Settings, request_id: str, retained: tuple[tuple[str, str, str], ...] = ()) -> VerificationResult:
    """Re-scan every location the plan touched and check nothing remains outside the exceptions."""
    plan = approved_plan(settings, request_id)
    for location in plan_locations(settings, request_id):
        if location != "vendor":
            discover_location(settings, request_id, location, phase=VERIFY)
    return verify_erasure(plan, _discoveries(settings, request_id, VERIFY), retained=retained)


def notify_recipient(
    settings: Settings, request_id: str, *, recipient: str, channel: str, at: datetime | None = None
) -> None:
    """Record that a recipient was told of the erasure (Art. 19)."""
    recipients = {r for c in settings.processing_register.categories.values() for r in c.recipients or []}
    if recipient not in recipients:
        allowed = "; ".join(sorted(recipients)) or "none in [register]"
        raise InputError(f"--recipient {recipient!r} is not a recipient in the register; known: {allowed}")
    with session_scope(settings.database.url) as session:
        cases.get_request(session, request_id)
        session.add(
            RecipientNotice(request_id=request_id, recipient=recipient, channel=channel, notified_at=at or utcnow())
        )
        cases.record_event(session, "erasure.recipient_notified", request_id=request_id, channel=channel)
