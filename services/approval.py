"""The human decision on an erasure plan and what reads it: the newest plan, its state, the signed approval.

Split from `services.erasure` (which names every function here too) so that `dsr request approve` records a
decision without importing the discovery, execution and matcher modules. `decide_lean` records it without
SQLAlchemy (`models.lean_write`, `proofs.lean_store`) where the case database is ready for it; the ORM is imported
by the functions that use a session.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from models.errors import ApprovalRequiredError, DsrError, FourEyesError, InputError, InvalidTransitionError
from models.identity_record import SUBMITTED_EVENT, os_user, submitter_of
from models.lean_read import Reader, lean_read
from models.lean_write import Writer, lean_write, utcnow
from models.lifecycle import transition_columns
from models.server_auth import AUTH_OS_LOGIN
from models.settings import Settings
from models.types import RequestStatus
from proofs.entry import LedgerEntry, text_chunks
from proofs.lean_store import lean_ledger_store
from proofs.ledger import Ledger, LedgerAction, ProofRecord
from services.case_views import Approval, PlanState, approval_from, approval_key, plan_state_of
from services.evidence import ledger_for

if TYPE_CHECKING:
    from sqlalchemy import CursorResult

    from models.tables import ErasurePlanRecord


def latest_plan(settings: Settings, request_id: str) -> ErasurePlanRecord | None:
    """The newest stored plan of a request."""
    from sqlmodel import col, select  # noqa: PLC0415 - the ORM only where a session is used

    from models.db import session_scope  # noqa: PLC0415
    from models.tables import ErasurePlanRecord  # noqa: PLC0415

    with session_scope(settings.database.url) as session:
        return session.exec(
            select(ErasurePlanRecord)
            .where(ErasurePlanRecord.request_id == request_id)
            .order_by(col(ErasurePlanRecord.id).desc())
            .limit(1)
        ).first()


def plan_state(settings: Settings, request_id: str) -> PlanState:
    """The newest plan's digest, decision and summary."""
    return plan_state_of(request_id, latest_plan(settings, request_id))


def approval_of(settings: Settings, request_id: str) -> Approval | None:
    """The signed ledger entry of the decision on the newest plan, if one was recorded."""
    from services.identity import reading_ledger  # noqa: PLC0415 - the ORM's ledger store

    record = latest_plan(settings, request_id)
    if record is None:
        return None
    return approval_from(
        request_id, record, reading_ledger(settings).store.find(approval_key(request_id, record.digest))
    )


def decision_refusal(
    request_id: str,
    plan: Any | None,
    *,
    approved: bool,
    digest: str,
    four_eyes: bool,
    submitter: str | None,
    authenticated_user: str,
    reviewer: str | None = None,
) -> DsrError | None:
    """Why a decision on `plan` (the request's newest plan row, None if it has none) must be refused, or None: the
    rules of both paths (`check_decision`, `decide_lean`), which read the rows and pass them here.

    `digest` is the reviewed digest as typed (compared stripped, in lower case); `reviewer`, where given, the name
    as typed; `submitter` who submitted the request (None if unrecorded).
    """
    if reviewer is not None and not reviewer.strip():
        return InputError("--by must name the reviewer who decides on the plan")
    digest = digest.strip().lower()
    if not digest:
        return InputError(
            f"--digest is required: the digest of the plan you reviewed (`dsr request plan {request_id} --detail`)"
        )
    if plan is None or plan.decision != "pending":
        return ApprovalRequiredError(
            f"request {request_id} has no erasure plan awaiting a decision; run `dsr request run {request_id}`",
            request_id=request_id,
        )
    if digest != plan.digest:
        return InputError(
            f"--digest {digest[:16]!r} is not the digest of {request_id}'s current plan (it changed, or the "
            f"digest is mistyped); review `dsr request plan {request_id} --detail` and approve its digest"
        )
    if approved and four_eyes and (submitter is None or submitter == authenticated_user):
        who = "was submitted by an unrecorded user" if submitter is None else "was submitted by this user"
        return FourEyesError(
            f"request {request_id} {who} ({authenticated_user}); [erasure].four_eyes requires another "
            "person to approve its erasure plan",
            request_id=request_id,
        )
    return None


def check_decision(
    settings: Settings,
    request_id: str,
    *,
    approved: bool,
    digest: str,
    authenticated_user: str,
    reviewer: str | None = None,
) -> ErasurePlanRecord:
    """Refuse a decision that is not bound to the current pending plan, or a self-approval under four eyes
    (`decision_refusal`).

    Raises:
        RequestNotFoundError: no such request.
        ApprovalRequiredError: no plan awaits a decision.
        InputError: `digest` is not the digest of the plan awaiting a decision (or is empty), or `reviewer` is
            given and empty.
        FourEyesError: `[erasure].four_eyes` is on and the approver submitted the request (or the submitter
            is unknown).
    """
    from sqlmodel import col, select  # noqa: PLC0415 - the ORM only where a session is used

    from models import cases, identity  # noqa: PLC0415
    from models.db import session_scope  # noqa: PLC0415
    from models.tables import ErasurePlanRecord  # noqa: PLC0415

    with session_scope(settings.database.url) as session:
        cases.get_request(session, request_id)
        record = session.exec(
            select(ErasurePlanRecord)
            .where(ErasurePlanRecord.request_id == request_id)
            .order_by(col(ErasurePlanRecord.id).desc())
            .limit(1)
        ).first()
        refusal = decision_refusal(
            request_id,
            record,
            approved=approved,
            digest=digest,
            four_eyes=settings.erasure.four_eyes,
            submitter=identity.submitted_by(session, request_id),
            authenticated_user=authenticated_user,
            reviewer=reviewer,
        )
        if refusal is not None:
            raise refusal
        assert record is not None  # noqa: S101 - decision_refusal refuses a missing plan
        session.expunge(record)
        return record


def decide(
    settings: Settings,
    request_id: str,
    *,
    approved: bool,
    reviewer: str,
    digest: str,
    note: str | None = None,
    authenticated_user: str | None = None,
    channel: str = "cli",
    authentication: str = AUTH_OS_LOGIN,
) -> PlanState:
    """Record a named reviewer's decision on the pending plan whose digest they reviewed.

    The decision (plan digest, reviewer name as typed, the authenticated OS or server user and how the decision
    was authenticated, time, note) is a signed proof-ledger entry. A rejection touches nothing and returns the
    request to in_progress.

    Raises:
        ApprovalRequiredError: there is no plan waiting for a decision.
        InputError: no reviewer name, or `digest` is not the pending plan's.
        FourEyesError: `[erasure].four_eyes` is on and the approver submitted the request.
        InvalidTransitionError: the request's status does not allow the change, or it changed since it was read.
    """
    from sqlalchemy import update  # noqa: PLC0415 - the ORM only where a session is used
    from sqlmodel import col  # noqa: PLC0415

    from models import cases, identity  # noqa: PLC0415
    from models.db import session_scope  # noqa: PLC0415
    from models.tables import ErasurePlanRecord, Request  # noqa: PLC0415

    user = authenticated_user or os_user()
    record = check_decision(
        settings, request_id, approved=approved, digest=digest, authenticated_user=user, reviewer=reviewer
    )
    reviewer = reviewer.strip()
    with session_scope(settings.database.url) as session:
        submitter = identity.submitted_by(session, request_id)
    decision = _Decision(request_id, approved, reviewer, record.digest, note, user, channel, authentication)
    _require_signed(decision, _sign(settings, decision, submitter, ledger_for(settings)))
    with session_scope(settings.database.url) as session:
        request = cases.get_request(session, request_id)
        row = session.get(ErasurePlanRecord, record.id)
        if row is None or row.decision != "pending":
            raise _decided_meanwhile(request_id)
        for column, value in decision.plan_columns().items():
            setattr(row, column, value)
        session.add(row)
        # `cases.transition` as a compare-and-swap on the status read, as `decide_lean` writes it.
        status = request.status
        columns = transition_columns(request_id, status, decision.status, utcnow())
        moved = session.execute(
            update(Request)
            .where(col(Request.id) == request_id, col(Request.status) == status)
            .values(**columns)
            .execution_options(synchronize_session=False)
        )
        if cast("CursorResult[Any]", moved).rowcount != 1:  # an UPDATE's result is a CursorResult
            raise _status_changed_meanwhile(request_id, status)
        details = decision.event_details()
        cases.record_event(
            session, decision.action, request_id=request_id, status_from=status, status_to=decision.status.value,
            **details,
        )  # fmt: skip
    return plan_state(settings, request_id)


class _Decision:
    """One reviewer's decision on the plan with `digest`: what the ledger entry, the plan row, the request's status
    and the audit event record of it, on either path."""

    def __init__(
        self,
        request_id: str,
        approved: bool,
        reviewer: str,
        digest: str,
        note: str | None,
        user: str,
        channel: str,
        authentication: str,
    ) -> None:
        self.request_id, self.approved, self.reviewer, self.digest = request_id, approved, reviewer, digest
        self.note, self.user, self.channel, self.authentication = note, user, channel, authentication
        self.status = RequestStatus.EXECUTING if approved else RequestStatus.IN_PROGRESS
        self.action = "erasure.approved" if approved else "erasure.rejected"

    def plan_columns(self) -> dict[str, Any]:
        """The `erasure_plans` columns the decision sets."""
        decision = "approved" if self.approved else "rejected"
        return {"decision": decision, "decided_by": self.reviewer, "decided_at": utcnow(), "note": self.note}

    def event_details(self) -> dict[str, Any]:
        """The actor and details of the audit event of the status change."""
        return {
            "actor": self.reviewer,
            "plan_digest": self.digest,
            "authenticated_user": self.user,
            "authentication": self.authentication,
        }


def _sign(settings: Settings, decision: _Decision, submitter: str | None, ledger: Ledger) -> LedgerEntry:
    """The decision's signed ledger entry (exactly once per plan digest), sealed at once: the entry the ledger
    stores under the plan's approval key, which is another decision's where one was signed first."""
    entry = ledger.append(
        ProofRecord(
            action=LedgerAction.APPROVE if decision.approved else LedgerAction.REJECT,
            request_id=decision.request_id,
            actor=decision.reviewer[:200],
            outcome="approved" if decision.approved else "rejected",
            details={
                "plan_digest": decision.digest,
                "reviewer": decision.reviewer,
                "authenticated_user": decision.user,
                "authentication": decision.authentication,
                "channel": decision.channel,
                "note": text_chunks(decision.note),
                "submitted_by": submitter,
                "four_eyes": settings.erasure.four_eyes,
            },
        ),
        idempotency_key=approval_key(decision.request_id, decision.digest),
    )
    ledger.seal()
    return entry


def _require_signed(decision: _Decision, entry: LedgerEntry) -> None:
    """Refuse to record `decision` on the plan unless the signed entry under its key is this decision's (same
    outcome, reviewer and authenticated user): the plan must never say other than the ledger.

    Raises:
        ApprovalRequiredError: another decision on the plan was signed first (concurrently, or by an earlier
            attempt whose last write failed).
    """
    details = entry.record.details
    signed = (entry.record.outcome, details.get("reviewer"), details.get("authenticated_user"))
    if signed != ("approved" if decision.approved else "rejected", decision.reviewer, decision.user):
        raise _decided_meanwhile(decision.request_id)


def _decided_meanwhile(request_id: str) -> ApprovalRequiredError:
    return ApprovalRequiredError(
        f"request {request_id}: the plan was decided meanwhile; see `dsr request plan {request_id}`",
        request_id=request_id,
    )


def _status_changed_meanwhile(request_id: str, status: str) -> InvalidTransitionError:
    return InvalidTransitionError(
        f"request {request_id} is no longer {status}: its status changed meanwhile and the decision was not "
        f"recorded on the plan; see `dsr request show {request_id}`",
        request_id=request_id,
    )


def submitted_by_of(db: Reader, request_id: str) -> str | None:
    """`models.identity.submitted_by` read through a lean read."""
    where = "request_id = ? AND action = ?"
    events = db.rows("audit_events", where, (request_id, SUBMITTED_EVENT), order="id", limit=1)
    return submitter_of(events[0] if events else None)


def decide_lean(
    settings: Settings,
    request_id: str,
    *,
    approved: bool,
    reviewer: str,
    digest: str,
    note: str | None = None,
    authenticated_user: str,
    channel: str = "cli",
    authentication: str = AUTH_OS_LOGIN,
) -> str | None:
    """`decide` without SQLAlchemy: the same checks, ledger entry, checkpoint, plan row, status change and audit
    event, in the same transactions. Gives the decided plan's digest, or None, with nothing written, where `decide`
    must run instead (a database to create or migrate, and every refusal: `decide` then names it; a driver error
    after the ledger entry is written leaves it for `decide`, whose append finds it stored).

    Raises:
        ApprovalRequiredError: the plan was decided meanwhile (after the ledger entry was written).
        InvalidTransitionError: the request's status does not allow the change, or it changed since it was read
            (nothing written but the entry).
    """
    url = settings.database.url
    user = authenticated_user

    def check(db: Reader) -> tuple[int, str, str | None] | None:
        if not db.rows("requests", "id = ?", (request_id,)):
            return None
        plans = db.rows("erasure_plans", "request_id = ?", (request_id,), order="id DESC", limit=1)
        plan = plans[0] if plans else None
        submitter = submitted_by_of(db, request_id)
        refusal = decision_refusal(
            request_id, plan, approved=approved, digest=digest, four_eyes=settings.erasure.four_eyes,
            submitter=submitter, authenticated_user=user, reviewer=reviewer,
        )  # fmt: skip
        if refusal is not None or plan is None:  # `decide` names the refusal
            return None
        return plan.id, plan.digest, submitter

    checked = lean_read(url, check)
    store = lean_ledger_store(url) if checked is not None else None
    if checked is None or store is None:
        return None
    plan_id, plan_digest, submitter = checked
    decision = _Decision(request_id, approved, reviewer.strip(), plan_digest, note, user, channel, authentication)
    _require_signed(decision, _sign(settings, decision, submitter, ledger_for(settings, store=store)))

    def write(db: Writer) -> bool | None:
        requests = db.rows("requests", "id = ?", (request_id,))
        if not requests:
            return None
        if db.update("erasure_plans", decision.plan_columns(), "id = ? AND decision = 'pending'", (plan_id,)) != 1:
            raise _decided_meanwhile(request_id)
        status = requests[0].status
        columns = transition_columns(request_id, status, decision.status, utcnow())
        if db.update("requests", columns, "id = ? AND status = ?", (request_id, status)) != 1:
            raise _status_changed_meanwhile(request_id, status)
        details = decision.event_details()
        db.event(decision.action, request_id=request_id, status_from=status, status_to=decision.status.value, **details)
        return True

    return plan_digest if lean_write(url, write) else None
