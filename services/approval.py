"""The human decision on an erasure plan and what reads it: the newest plan, its state, the signed approval.

Split from `services.erasure` (which names every function here too) so that `dsr request approve` records a
decision without importing the discovery, execution and matcher modules.
"""

from __future__ import annotations

from sqlmodel import col, select

from models import cases, identity
from models.db import session_scope
from models.errors import ApprovalRequiredError, FourEyesError, InputError
from models.server_auth import AUTH_OS_LOGIN
from models.settings import Settings
from models.tables import ErasurePlanRecord, utcnow
from models.types import RequestStatus
from proofs.ledger import LedgerAction, ProofRecord
from services.case_views import Approval, PlanState, approval_from, approval_key, plan_state_of
from services.evidence import ledger_for
from services.identity import reading_ledger, text_chunks


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
    return plan_state_of(request_id, latest_plan(settings, request_id))


def approval_of(settings: Settings, request_id: str) -> Approval | None:
    """The signed ledger entry of the decision on the newest plan, if one was recorded."""
    record = latest_plan(settings, request_id)
    if record is None:
        return None
    return approval_from(
        request_id, record, reading_ledger(settings).store.find(approval_key(request_id, record.digest))
    )


def check_decision(
    settings: Settings, request_id: str, *, approved: bool, digest: str, authenticated_user: str
) -> ErasurePlanRecord:
    """Refuse a decision that is not bound to the current pending plan, or a self-approval under four eyes.

    Raises:
        ApprovalRequiredError: no plan awaits a decision.
        InputError: `digest` is not the digest of the plan awaiting a decision.
        FourEyesError: `[erasure].four_eyes` is on and the approver submitted the request (or the submitter
            is unknown).
    """
    digest = digest.strip().lower()
    if not digest:
        raise InputError(
            f"--digest is required: the digest of the plan you reviewed (`dsr request plan {request_id} --detail`)"
        )
    with session_scope(settings.database.url) as session:
        cases.get_request(session, request_id)
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
        if digest != record.digest:
            raise InputError(
                f"--digest {digest[:16]!r} is not the digest of {request_id}'s current plan (it changed, or the "
                f"digest is mistyped); review `dsr request plan {request_id} --detail` and approve its digest"
            )
        if approved and settings.erasure.four_eyes:
            submitter = identity.submitted_by(session, request_id)
            if submitter is None or submitter == authenticated_user:
                who = "was submitted by an unrecorded user" if submitter is None else "was submitted by this user"
                raise FourEyesError(
                    f"request {request_id} {who} ({authenticated_user}); [erasure].four_eyes requires another "
                    "person to approve its erasure plan",
                    request_id=request_id,
                )
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
    """
    if not reviewer.strip():
        raise InputError("--by must name the reviewer who decides on the plan")
    reviewer = reviewer.strip()
    user = authenticated_user or identity.os_user()
    record = check_decision(settings, request_id, approved=approved, digest=digest, authenticated_user=user)
    with session_scope(settings.database.url) as session:
        submitter = identity.submitted_by(session, request_id)
    ledger = ledger_for(settings)
    ledger.append(
        ProofRecord(
            action=LedgerAction.APPROVE if approved else LedgerAction.REJECT,
            request_id=request_id,
            actor=reviewer[:200],
            outcome="approved" if approved else "rejected",
            details={
                "plan_digest": record.digest,
                "reviewer": reviewer,
                "authenticated_user": user,
                "authentication": authentication,
                "channel": channel,
                "note": text_chunks(note),
                "submitted_by": submitter,
                "four_eyes": settings.erasure.four_eyes,
            },
        ),
        idempotency_key=approval_key(request_id, record.digest),
    )
    ledger.seal()
    with session_scope(settings.database.url) as session:
        request = cases.get_request(session, request_id)
        row = session.get(ErasurePlanRecord, record.id)
        if row is None or row.decision != "pending":
            raise ApprovalRequiredError(
                f"request {request_id}: the plan was decided meanwhile; see `dsr request plan {request_id}`",
                request_id=request_id,
            )
        row.decision = "approved" if approved else "rejected"
        row.decided_by, row.decided_at, row.note = reviewer, utcnow(), note
        session.add(row)
        cases.transition(
            session,
            request,
            RequestStatus.EXECUTING if approved else RequestStatus.IN_PROGRESS,
            action="erasure.approved" if approved else "erasure.rejected",
            actor=reviewer,
            plan_digest=record.digest,
            authenticated_user=user,
            authentication=authentication,
        )
    return plan_state(settings, request_id)
