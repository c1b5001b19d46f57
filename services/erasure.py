"""The erasure request as plain functions: discover, plan, decide, execute, verify (the certificate is in
`services.certificates`).

Flows and the CLI call these; tests call them without Prefect. Discoveries (which carry copies of the subject's records)
are kept only encrypted in the request's private staging directory; the plan, the ledger and everything
returned to a flow hold locations, line numbers, hashes and counts only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlmodel import select

from connectors.base import Connector, VersionedStore
from connectors.registry import open_location
from detection.logfilter import redact_text
from detection.matcher import Matcher
from erasure.discovery import LocationDiscovery, discover_endpoint, discover_store
from erasure.executor import ExecutionReport, execute_plan
from erasure.plan import ErasurePlan, plan_erasure
from erasure.proof_path import proof_path
from erasure.verify import VerificationResult, record_verification, verify_erasure
from models import cases
from models.db import session_scope
from models.errors import ApprovalRequiredError, ConnectorError, DsrError, InputError
from models.holds import active_holds, as_settings
from models.identity import require_identity
from models.lean_write import current_actor
from models.run_lock import check_open
from models.settings import Settings
from models.tables import ErasurePlanRecord, LocationScan, utcnow
from models.types import LocationStatus, RequestKind, RequestStatus
from proofs.ledger import LedgerAction, ProofRecord
from services import approval, case_views
from services.evidence import ledger_for
from services.staging import load_discovery, save_discovery, staging_dir
from services.subject import build_matcher, request_key

#: The plan's state and the decision on it, as the commands that only read show them (`services.case_views`).
PlanState = case_views.PlanState
Approval = case_views.Approval

DISCOVERY = "erasure"
VERIFY = "verify"


def begin_erasure(settings: Settings, request_id: str) -> list[str]:
    """Move the request to in_progress (if new) and give every location a status row; returns those to scan."""
    with session_scope(settings.database.url) as session:
        cases.sync_locations(session, settings)
        request = cases.get_request(session, request_id)
        if RequestKind(request.kind) is not RequestKind.ERASURE:
            raise InputError(f"request {request_id} is a {request.kind} request, not erasure")
        check_open(request)
        require_identity(request, "run")
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


def plan_detail(settings: Settings, request_id: str, *, redact: bool = False) -> list[dict[str, Any]]:
    """Every item of the newest plan with its action and reason (paths and counts, never content).

    Args:
        redact: replace every form of the subject's identifiers in paths and version ids by `[redacted]`,
            and home-directory account names by `[user]` (for the Prefect artifact: a laptop path
            carries the staff member's login name).
    """
    record = latest_plan(settings, request_id)
    if record is None:
        return []
    rows = ErasurePlan.from_json(record.plan_json).detail()
    if redact and rows:
        matcher = build_matcher(settings, request_id)
        for row in rows:
            row["path"] = mask_home_user(redact_text(row["path"], matcher))
            row["version_id"] = redact_text(row["version_id"], matcher)
    return rows


_HOME_USER = re.compile(r"(?i)(^|[/\\])(Users|home)([/\\])[^/\\]+(?=[/\\]|$)")
HOME_USER_MASK = "[user]"


def mask_home_user(path: str) -> str:
    """`path` with the account name of any home directory (`/Users/<name>`, `/home/<name>`,
    `C:/Users/<name>`) replaced by `[user]`: the reviewer needs the laptop and the store, not the staff
    member's login name, and everything handed to Prefect is readable inside the company."""
    return _HOME_USER.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3)}{HOME_USER_MASK}", path)


# The decision on the plan and what reads it need none of the discovery, execution or matcher modules: they are
# in `services.approval` (what `dsr request approve` imports), named here too.
latest_plan = approval.latest_plan
plan_state = approval.plan_state
approval_of = approval.approval_of
check_decision = approval.check_decision
decide = approval.decide


def approved_plan(settings: Settings, request_id: str) -> ErasurePlan:
    """The approved, not yet executed plan.

    Raises:
        ApprovalRequiredError: the newest plan is not approved (nothing may be touched).
    """
    record = latest_plan(settings, request_id)
    if record is None or record.decision != "approved":
        raise ApprovalRequiredError(
            f"request {request_id}: erasure needs an approved plan "
            f"(dsr request approve {request_id} --by NAME --digest HEX)",
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
    # The acting identity is the process that erases; who approved is the plan's own signed ledger entry.
    actor = current_actor()
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


def verify(
    settings: Settings,
    request_id: str,
    retained: tuple[tuple[str, str, str], ...] = (),
    *,
    run_id: str = "local",
) -> VerificationResult:
    """Re-scan every location the plan touched and check nothing remains outside the exceptions.

    Each location's re-scan result is a signed proof-ledger entry (`verify`): `clean`, `findings_remain`
    with the count, or `not_rescanned` with the location's status when it could not be read again.
    """
    plan = approved_plan(settings, request_id)
    statuses: dict[str, str] = {}
    for location in plan_locations(settings, request_id):
        if location != "vendor":
            statuses[location] = discover_location(settings, request_id, location, phase=VERIFY)
    result = verify_erasure(plan, _discoveries(settings, request_id, VERIFY), retained=retained)
    ledger = ledger_for(settings)
    actor = current_actor()
    record_verification(ledger, plan, result, run_id=run_id, actor=actor)
    for location, status in sorted(statuses.items()):
        if location in result.checked_locations:
            continue
        ledger.append(
            ProofRecord(
                action=LedgerAction.VERIFY,
                request_id=request_id,
                run_id=run_id,
                location=location,
                actor=actor,
                verification="not_rescanned",
                outcome=status if status.isidentifier() and status.islower() else "failed",
                details={"plan_digest": plan.digest, "status": status},
            ),
            idempotency_key=f"erasure-verify:{request_id}:{run_id}:{location}",
        )
    ledger.seal()
    return result
