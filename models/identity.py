"""The identity check of a request (Art. 12(2) and 12(6)): asked, verified or waived, and the gate it opens.

A new request waits in `identity_pending` until a person records how the requester's identity was
established (`verify`) or why no check is needed (`waive`, for example a request sent from the employee's
own authenticated account). Only the method and the outcome are kept, never a document or its number.
While identity information the controller asked for is outstanding, the legal clock stands still; the dates
are recomputed by the one deadline function when it arrives.

Plain functions over a SQLModel session; the proof-ledger entry of each record is written by
`services.identity`, which calls these.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session, col, select

from models import identity_record
from models.cases import get_request, record_event, transition
from models.deadline import compute_deadlines
from models.errors import DeadlinePassedError, IdentityRequiredError, InputError, InvalidTransitionError
from models.identifiers import CLOCK_SKEW, MAX_LONG_TEXT, check_text
from models.identity_record import os_user
from models.lifecycle import OPEN_STATUSES
from models.new_request import local_date
from models.settings import Settings
from models.tables import AuditEvent, Request, utcnow
from models.types import RequestStatus

# What shows the identity check needs no database: defined in `models.identity_record`, named here too.
METHODS = identity_record.METHODS
VERIFIED = identity_record.VERIFIED
WAIVED = identity_record.WAIVED
SETTLED = identity_record.SETTLED
IdentityRecord = identity_record.IdentityRecord

#: Statuses in which the identity check can still be recorded.
_AWAITING = frozenset({RequestStatus.RECEIVED, RequestStatus.IDENTITY_PENDING})


def is_settled(request: Request) -> bool:
    """Whether the identity check was verified or waived."""
    return request.identity_outcome in SETTLED


def require_identity(request: Request, action: str) -> None:
    """Refuse `action` (`run`, `export`, ...) until the identity check is verified or waived.

    Raises:
        IdentityRequiredError: the message names the two commands that record it.
    """
    if is_settled(request):
        return
    raise IdentityRequiredError(
        f"request {request.id} is {request.status}: its identity check is not recorded, so it cannot be "
        f"{action}; record it with `dsr request verify-identity {request.id} --method M --by NAME` or "
        f"`dsr request waive-identity {request.id} --reason T`",
        request_id=request.id,
    )


def _check_open(request: Request) -> None:
    if request.identity_outcome in SETTLED:
        raise InvalidTransitionError(
            f"request {request.id}: identity already recorded as {request.identity_outcome}", request_id=request.id
        )
    if RequestStatus(request.status) not in _AWAITING:
        raise InvalidTransitionError(
            f"request {request.id} is {request.status}; an identity check can only be recorded while it is "
            "received or identity_pending",
            request_id=request.id,
        )


def _instant(option: str, value: datetime | None, now: datetime) -> datetime:
    if value is None:
        return now
    if value.tzinfo is None:
        raise InputError(f"{option} needs a timezone offset, for example 2026-03-10T12:00:00+00:00")
    if value > now + CLOCK_SKEW:
        raise InputError(f"{option} is in the future; give the time it happened")
    return value.astimezone(UTC)


def _redate(session: Session, settings: Settings, request: Request) -> None:
    """Recompute the legal dates with the identity pause (the one deadline function decides)."""
    if request.identity_requested_at is None or request.identity_received_at is None:
        return
    dates = compute_deadlines(
        local_date(request.received_at, settings),
        request.calendar,
        identity_asked=local_date(request.identity_requested_at, settings),
        identity_arrived=local_date(request.identity_received_at, settings),
    )
    request.due_on, request.target_on = dates.due, dates.target
    if request.extended_due_on is not None:
        request.extended_due_on = dates.extended_due
    session.add(request)


def ask_identity(
    session: Session, settings: Settings, request_id: str, *, at: datetime | None = None, now: datetime | None = None
) -> Request:
    """Record that identity information was asked for (reasonable doubt only): the clock stands still from `at`.

    Raises:
        InvalidTransitionError: the check is already recorded, the request is not awaiting it, or it was
            already asked.
        DeadlinePassedError: `at` is after the due date (the request is overdue; the clock cannot be stopped).
        InputError: `at` is naive, in the future or before receipt.
    """
    now = now or utcnow()
    request = get_request(session, request_id)
    _check_open(request)
    if request.identity_requested_at is not None:
        raise InvalidTransitionError(
            f"request {request_id}: identity information was already asked for on "
            f"{local_date(request.identity_requested_at, settings)}",
            request_id=request_id,
        )
    asked = _instant("--at", at, now)
    if asked < request.received_at:
        raise InputError("--at is before the request was received; check the date")
    if local_date(asked, settings) > request.due_on:
        raise DeadlinePassedError(
            f"request {request_id}: identity information asked after the due date {request.due_on}; the clock "
            "can only stand still while the request is within its period (it is overdue)",
            request_id=request_id,
        )
    request.identity_requested_at = asked
    request.updated_at = now
    if RequestStatus(request.status) is RequestStatus.RECEIVED:
        transition(session, request, RequestStatus.IDENTITY_PENDING, action="request.identity_asked")
    else:
        session.add(request)
        record_event(session, "request.identity_asked", request_id=request_id, asked_at=asked.isoformat())
    return request


def verify_identity(
    session: Session,
    settings: Settings,
    request_id: str,
    *,
    method: str,
    by: str,
    note: str | None = None,
    arrived_at: datetime | None = None,
    now: datetime | None = None,
) -> Request:
    """Record that the requester's identity was established by `method`; the request moves to in_progress.

    Raises:
        InputError: unknown method, empty name, bad note or arrival time.
        InvalidTransitionError: the check is already recorded or the request is closed.
    """
    now = now or utcnow()
    if method not in METHODS:
        raise InputError(f"--method {method!r} is not a method; use one of: {', '.join(METHODS)}")
    by = check_text("--by", by)
    note = None if note is None else check_text("--note", note, limit=MAX_LONG_TEXT, multiline=True)
    request = get_request(session, request_id)
    _check_open(request)
    arrived = _instant("--received-at", arrived_at, now)
    if arrived < request.received_at:
        raise InputError("--received-at is before the request was received; check the date")
    if request.identity_requested_at is not None and arrived < request.identity_requested_at:
        raise InputError("--received-at is before identity information was asked for; check the date")
    request.identity_method, request.identity_outcome = method, VERIFIED
    request.identity_received_at = arrived
    _redate(session, settings, request)
    transition(
        session,
        request,
        RequestStatus.IN_PROGRESS,
        action="request.identity_verified",
        method=method,
        verified_by=by,
        os_user=os_user(),
        due=request.due_on.isoformat(),
    )
    return request


def waive_identity(session: Session, settings: Settings, request_id: str, *, reason: str) -> Request:
    """Record why no identity check is needed (for example the person's own authenticated account).

    Raises:
        InputError: empty or overlong reason.
        InvalidTransitionError: the check is already recorded or the request is closed.
    """
    if not reason.strip():
        raise InputError("--reason must say why no identity check is needed")
    reason = check_text("--reason", reason, limit=MAX_LONG_TEXT, multiline=True)
    request = get_request(session, request_id)
    _check_open(request)
    if request.identity_requested_at is not None:
        raise InvalidTransitionError(
            f"request {request_id}: identity information was asked for; record its arrival with "
            f"`dsr request verify-identity {request_id} --method M --by NAME --received-at ISO`",
            request_id=request_id,
        )
    request.identity_method, request.identity_outcome = None, WAIVED
    transition(session, request, RequestStatus.IN_PROGRESS, action="request.identity_waived", os_user=os_user())
    return request


def submitted_by(session: Session, request_id: str) -> str | None:
    """The operating-system user that recorded the request (None for requests recorded before this was kept)."""
    event = session.exec(
        select(AuditEvent)
        .where(AuditEvent.request_id == request_id, AuditEvent.action == identity_record.SUBMITTED_EVENT)
        .order_by(col(AuditEvent.id))
        .limit(1)
    ).first()
    return identity_record.submitter_of(event)


def clock_paused(request: Request) -> bool:
    """Identity information was asked for and has not arrived: the legal clock stands still."""
    return (
        request.identity_requested_at is not None
        and request.identity_received_at is None
        and RequestStatus(request.status) in OPEN_STATUSES
    )
