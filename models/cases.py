"""Request lifecycle on the case database: intake, status transitions, extensions, refusals, audit events.

Plain functions over a SQLModel session. Every state change writes an audit event in the same
transaction; an illegal change raises a domain error and leaves the row unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from models import lifecycle
from models.crypto import unseal
from models.deadline import compute_deadlines
from models.errors import DeadlinePassedError, InputError, InvalidTransitionError, RequestNotFoundError
from models.identifiers import CLOCK_SKEW, MAX_LONG_TEXT, Identifier, check_text
from models.identity_record import SUBMITTED_EVENT
from models.lean_write import audit_event_values, configured_locations
from models.lifecycle import (
    OPEN_STATUSES,
    REFUSAL_GROUNDS,
    release_check_document,
    released_of,
    request_detail_document,
)
from models.new_request import id_prefix, local_date, new_request, next_id
from models.settings import Settings
from models.tables import AuditEvent, Location, LocationScan, Request, RequestKey, SubjectIdentifier, utcnow
from models.types import IdentifierKind, RequestKind, RequestStatus

#: Longer request ids are never looked up (ids are `DSR-<year>-NNNN`).
MAX_REQUEST_ID = 64


def record_event(
    session: Session,
    action: str,
    *,
    request_id: str | None = None,
    outcome: str = "success",
    actor: str | None = None,
    **details: Any,
) -> AuditEvent:
    """Add an audit event to the session (committed with the change it records). No personal data in details."""
    event = AuditEvent(**audit_event_values(action, request_id=request_id, outcome=outcome, actor=actor, **details))
    session.add(event)
    return event


def get_request(session: Session, request_id: str) -> Request:
    """The request with this id.

    Raises:
        RequestNotFoundError: no such request.
    """
    plausible = 0 < len(request_id) <= MAX_REQUEST_ID and request_id.isprintable() and request_id.isascii()
    request = session.get(Request, request_id) if plausible else None
    if request is None:
        shown = request_id if plausible else request_id[:40] + ("..." if len(request_id) > 40 else "")
        raise RequestNotFoundError(
            f"no request with id {shown!r}; `dsr request list` shows the ids", request_id=request_id
        )
    return request


def next_request_id(session: Session, year: int) -> str:
    """`DSR-<year>-NNNN`, one more than the highest of that year."""
    ids = session.exec(select(Request.id).where(col(Request.id).startswith(id_prefix(year)))).all()
    return next_id(ids, year)


def submit_request(
    session: Session,
    settings: Settings,
    *,
    kind: RequestKind,
    identifiers: Sequence[Identifier],
    hmac_key: bytes,
    master_key: bytes,
    received_at: datetime | None = None,
    channel: str = "email",
    representative: str | None = None,
    representative_authority: str | None = None,
) -> Request:
    """Record a new request with its identifiers and legal dates (Art. 12(3)); its rows are `models.new_request`'s.

    Raises:
        InputError: no identifiers; `received_at` naive, in the future or before the GDPR applied; `channel`
            empty or too long.
    """
    new = new_request(
        settings, kind=kind, identifiers=identifiers, received_at=received_at, channel=channel,
        representative=representative, representative_authority=representative_authority,
    )  # fmt: skip
    row, key, *identifier_rows = new.rows(next_request_id(session, new.year), hmac_key=hmac_key, master_key=master_key)
    request = Request(**row)
    session.add(request)
    session.flush()
    session.add(RequestKey(**key))
    for identifier in identifier_rows:
        session.add(SubjectIdentifier(**identifier))
    record_event(session, SUBMITTED_EVENT, request_id=request.id, **new.event())
    return request


def transition(session: Session, request: Request, to: RequestStatus, *, action: str, **details: Any) -> None:
    """Move a request to status `to`, or raise without touching the row.

    Raises:
        InvalidTransitionError: the lifecycle does not allow it (the message names both statuses).
    """
    current = RequestStatus(request.status)
    for column, value in lifecycle.transition_columns(request.id, request.status, to, utcnow()).items():
        setattr(request, column, value)
    session.add(request)
    record_event(session, action, request_id=request.id, status_from=current.value, status_to=to.value, **details)


def extend_request(
    session: Session,
    settings: Settings,
    request_id: str,
    *,
    reason: str,
    notified_at: datetime | None = None,
    now: datetime | None = None,
) -> Request:
    """Record an extension by two further months (Art. 12(3)): only within the first month, with reasons.

    Raises:
        DeadlinePassedError: today or the notification is after the first due date (the request is overdue).
        InvalidTransitionError: the request is closed or already extended.
        InputError: empty reason or naive notification time.
    """
    request = get_request(session, request_id)
    now = now or utcnow()
    notified_at = notified_at or now
    if notified_at.tzinfo is None:
        raise InputError("--notified-at needs a timezone offset, for example 2026-03-10T12:00:00+00:00")
    if notified_at > now + CLOCK_SKEW:
        raise InputError("--notified-at is in the future; give the time the person was told")
    if notified_at < request.received_at:
        raise InputError("--notified-at is before the request was received; check the date")
    if not reason.strip():
        raise InputError("--reason must say why the extension is needed (the person is told the reasons)")
    reason = check_text("--reason", reason, limit=MAX_LONG_TEXT, multiline=True)
    if RequestStatus(request.status) not in OPEN_STATUSES:
        raise InvalidTransitionError(f"request {request.id} is {request.status}; it cannot be extended")
    if request.extended_due_on is not None:
        raise InvalidTransitionError(f"request {request.id} is already extended to {request.extended_due_on}")
    for label, instant in (("today", now), ("the notification", notified_at)):
        if local_date(instant, settings) > request.due_on:
            raise DeadlinePassedError(
                f"request {request.id}: {label} is after the first deadline {request.due_on}; an extension "
                "must be notified within the first month (Art. 12(3)); the request is overdue",
                request_id=request.id,
            )
    deadlines = compute_deadlines(
        local_date(request.received_at, settings),
        request.calendar,
        identity_asked=local_date(request.identity_requested_at, settings) if request.identity_requested_at else None,
        identity_arrived=local_date(request.identity_received_at, settings) if request.identity_received_at else None,
    )
    request.extended_due_on = deadlines.extended_due
    request.extension_notified_at = notified_at.astimezone(UTC)
    request.extension_reasons = reason.strip()
    request.updated_at = utcnow()
    session.add(request)
    record_event(session, "request.extended", request_id=request.id, extended_due=deadlines.extended_due.isoformat())
    return request


def refuse_request(session: Session, request_id: str, *, ground: str, reason: str) -> Request:
    """Refuse to act (Art. 12(4)/(5)): records the ground and reasons; the notice tells of remedies.

    Raises:
        InputError: unknown ground or empty reason.
        InvalidTransitionError: the request is closed.
    """
    if ground not in REFUSAL_GROUNDS:
        raise InputError(f"--ground {ground!r} is not one of: {', '.join(REFUSAL_GROUNDS)}")
    if not reason.strip():
        raise InputError("--reason must state the facts behind the refusal")
    reason = check_text("--reason", reason, limit=MAX_LONG_TEXT, multiline=True)
    request = get_request(session, request_id)
    transition(session, request, RequestStatus.REFUSED, action="request.refused", ground=ground)
    request.refusal_ground = ground
    request.refusal_reason = reason.strip()
    return request


def withdraw_request(session: Session, request_id: str) -> Request:
    """The person withdrew the request."""
    request = get_request(session, request_id)
    transition(session, request, RequestStatus.WITHDRAWN, action="request.withdrawn")
    return request


def list_requests(session: Session, *, status: RequestStatus | None = None) -> list[Request]:
    """Requests, newest first."""
    query = select(Request).order_by(col(Request.received_at).desc())
    if status is not None:
        query = query.where(Request.status == status.value)
    return list(session.exec(query).all())


def location_scans(session: Session, request_id: str) -> list[LocationScan]:
    """Location statuses of a request."""
    query = select(LocationScan).where(LocationScan.request_id == request_id).order_by(col(LocationScan.location))
    return list(session.exec(query).all())


def identifiers_of(session: Session, request_id: str) -> list[SubjectIdentifier]:
    """The subject identifier rows of a request (values encrypted under the request key)."""
    return list(session.exec(select(SubjectIdentifier).where(SubjectIdentifier.request_id == request_id)).all())


def request_data_key(session: Session, request_id: str, master_key: bytes) -> bytes:
    """The request's data key, unwrapped with the master key.

    Raises:
        RequestNotFoundError: the request has no key (unknown, or destroyed after its record-keeping period).
    """
    row = session.get(RequestKey, request_id)
    if row is None or row.destroyed_at is not None:
        raise RequestNotFoundError(
            f"request {request_id} has no data key (destroyed or unknown)", request_id=request_id
        )
    return unseal(master_key, row.wrapped_key, request_id.encode())


def decrypted_identifiers(session: Session, request_id: str, master_key: bytes) -> list[tuple[str, str]]:
    """(kind, value) of the request's subject identifiers, decrypted in memory (personal data: never hand them
    to Prefect, logs or exceptions). Identifiers already pseudonymised are left out."""
    key = request_data_key(session, request_id, master_key)
    out: list[tuple[str, str]] = []
    for row in identifiers_of(session, request_id):
        if row.value is None:
            continue
        aad = f"{request_id}:{row.kind}".encode()
        out.append((row.kind, unseal(key, row.value, aad).decode("utf-8")))
    return out


def other_subjects(session: Session, request_id: str, master_key: bytes) -> list[list[tuple[str, str]]]:
    """Per other request (any status) whose key still exists: its subject's (kind, value) identifiers,
    decrypted in memory with that request's key (personal data: for redaction in this process only, never
    logged or handed to Prefect). Two queries, whatever the number of requests."""
    keys = {
        row.request_id: row.wrapped_key
        for row in session.exec(
            select(RequestKey).where(RequestKey.request_id != request_id, col(RequestKey.destroyed_at).is_(None))
        ).all()
    }
    people: dict[str, list[tuple[str, str]]] = {}
    unwrapped: dict[str, bytes] = {}
    rows = session.exec(
        select(SubjectIdentifier).where(
            SubjectIdentifier.request_id != request_id, col(SubjectIdentifier.value).is_not(None)
        )
    ).all()
    for row in rows:
        wrapped = keys.get(row.request_id)
        if wrapped is None or row.value is None:
            continue
        key = unwrapped.get(row.request_id)
        if key is None:
            key = unwrapped[row.request_id] = unseal(master_key, wrapped, row.request_id.encode())
        value = unseal(key, row.value, f"{row.request_id}:{row.kind}".encode()).decode("utf-8")
        people.setdefault(row.request_id, []).append((row.kind, value))
    return list(people.values())


#: Audit actions of the access package's checks (defined with the rules that need no database).
RELEASE_CHECK = lifecycle.RELEASE_CHECK
REGISTER_CHECK = lifecycle.REGISTER_CHECK
ITEM_RELEASED = lifecycle.ITEM_RELEASED


def last_release_check(session: Session, request_id: str) -> AuditEvent | None:
    """The latest release-check event of a request (its details list the items that blocked it, no content)."""
    query = (
        select(AuditEvent)
        .where(AuditEvent.request_id == request_id, AuditEvent.action == RELEASE_CHECK)
        .order_by(col(AuditEvent.id).desc())
    )
    return session.exec(query).first()


def last_issue_checks(session: Session, request_id: str) -> tuple[AuditEvent | None, AuditEvent | None]:
    """The latest register-check and release-check events of a request (either may be None)."""
    register = session.exec(
        select(AuditEvent)
        .where(AuditEvent.request_id == request_id, AuditEvent.action == REGISTER_CHECK)
        .order_by(col(AuditEvent.id).desc())
    ).first()
    return register, last_release_check(session, request_id)


def released_items(session: Session, request_id: str) -> dict[str, str]:
    """Release-check items a reviewer released for the request: item id -> recorded reason (one query)."""
    query = select(AuditEvent).where(AuditEvent.request_id == request_id, AuditEvent.action == ITEM_RELEASED)
    return released_of(session.exec(query).all())


def release_item(session: Session, request_id: str, item: str, *, reason: str, actor: str | None = None) -> None:
    """Record a reviewer's release of one item the last release check blocked on, with the reason.

    Raises:
        InputError: the reason is empty or too long, or the item is not among those the last check blocked on.
    """
    get_request(session, request_id)
    reason = check_text("--reason", reason, limit=MAX_LONG_TEXT)
    event = last_release_check(session, request_id)
    blocked = json.loads(event.details).get("items", []) if event is not None else []
    if item not in {b.get("item") for b in blocked}:
        raise InputError(
            f"ITEM is not an item the last release check of {request_id} blocked on (items look like R-0123456789); "
            f"see `dsr request show {request_id}` for the list"
        )
    record_event(session, ITEM_RELEASED, request_id=request_id, actor=actor, item=item, reason=reason)


def pseudonymise_closed_requests(session: Session, settings: Settings, *, now: datetime | None = None) -> list[str]:
    """After the record-keeping period, drop identifier values (keep keyed hashes) and destroy the data key."""
    now = now or utcnow()
    cutoff = now - settings.record_keeping
    done: list[str] = []
    closed = session.exec(select(Request).where(col(Request.closed_at).is_not(None))).all()
    for request in closed:
        if request.closed_at is None or request.closed_at > cutoff:
            continue
        changed = False
        for row in identifiers_of(session, request.id):
            if row.value is not None:
                row.value, row.normalized, row.pseudonymised_at = None, None, now
                session.add(row)
                changed = True
        key = session.get(RequestKey, request.id)
        if key is not None and key.destroyed_at is None:
            key.wrapped_key, key.destroyed_at = "destroyed", now
            session.add(key)
            changed = True
        if changed:
            record_event(session, "request.pseudonymised", request_id=request.id)
            done.append(request.id)
    return done


def sync_locations(session: Session, settings: Settings) -> None:
    """Make the `locations` table mirror the configuration's endpoints and stores."""
    wanted = configured_locations(settings)
    for existing in session.exec(select(Location)).all():
        if existing.name not in wanted:
            existing.active = False
            session.add(existing)
    # Insert missing rows with ON CONFLICT DO NOTHING: several flows start at once and sync concurrently.
    insert: Callable[[type[Location]], Any]
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert  # noqa: PLC0415 - loaded only where it runs

        insert = pg_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert  # noqa: PLC0415

        insert = sqlite_insert
    for name, row in wanted.items():
        session.execute(
            insert(Location).values(name=name, active=True, synced_at=utcnow(), **row).on_conflict_do_nothing()
        )
        current = session.get(Location, name)
        if current is not None:
            current.kind, current.url, current.os, current.group = row["kind"], row["url"], row["os"], row["group"]
            current.active, current.synced_at = True, utcnow()
            session.add(current)


def request_detail(session: Session, request: Request, today: date) -> dict[str, Any]:
    """The JSON object of `dsr request show --json` (no identifiers, only their kinds)."""
    return request_detail_document(
        request,
        today,
        identifier_kinds=[i.kind for i in identifiers_of(session, request.id)],
        scans=location_scans(session, request.id),
        release_check=release_check_document(
            last_release_check(session, request.id), released_items(session, request.id)
        ),
    )


def overdue_cutoff(today: date, days: int) -> date:
    """The due date at or before which a request is `days` or fewer days from its deadline."""
    return today + timedelta(days=days)


def identifier_kinds() -> list[str]:
    """Identifier kinds accepted at intake."""
    return [k.value for k in IdentifierKind]
