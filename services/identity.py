"""The identity check of a request, recorded in the case database and as a signed proof-ledger entry.

Plain Python: no Prefect. `dsr request ask-identity|verify-identity|waive-identity`, the intake form and the
demo call these. The ledger entry carries the method, the outcome, who recorded it (as typed and as the
operating system knows them), when, and the note or reason; never the evidence itself.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime

from sqlmodel import Session

from models import identity
from models.cases import get_request
from models.db import session_scope
from models.identity_record import identity_record_of, os_user, recorded_key
from models.settings import Settings
from models.tables import Request
from proofs.entry import LedgerEntry, text_chunks
from proofs.ledger import Ledger, LedgerAction, ProofRecord
from proofs.sql_store import SQLLedgerStore
from services.evidence import ledger_for


def _asked_key(request_id: str) -> str:
    return f"identity:{request_id}:asked"


def reading_ledger(settings: Settings) -> Ledger:
    """The case database's ledger for reading only (no signing key needed)."""

    def sessions() -> AbstractContextManager[Session]:
        return session_scope(settings.database.url)

    return Ledger(SQLLedgerStore(sessions), signer=None)


def _append(settings: Settings, record: ProofRecord, key: str) -> LedgerEntry:
    ledger = ledger_for(settings)
    entry = ledger.append(record, idempotency_key=key)
    ledger.seal()  # signed at once: the record is evidence on its own
    return entry


def _record(settings: Settings, change: Callable[[Session], Request]) -> None:
    with session_scope(settings.database.url) as session:
        change(session)


def ask(settings: Settings, request_id: str, *, at: datetime | None = None) -> LedgerEntry:
    """Record that identity information was asked for; the legal clock stands still until it arrives."""
    _record(settings, lambda s: identity.ask_identity(s, settings, request_id, at=at))
    with session_scope(settings.database.url) as session:
        asked = get_request(session, request_id).identity_requested_at
    return _append(
        settings,
        ProofRecord(
            action=LedgerAction.IDENTITY,
            request_id=request_id,
            outcome="asked",
            actor=os_user(),
            details={"asked_at": asked.isoformat() if asked else None, "os_user": os_user()},
        ),
        _asked_key(request_id),
    )


def verify(
    settings: Settings,
    request_id: str,
    *,
    method: str,
    by: str,
    note: str | None = None,
    arrived_at: datetime | None = None,
) -> LedgerEntry:
    """Record how the requester's identity was established; the request can then run."""
    with session_scope(settings.database.url) as session:
        current = get_request(session, request_id)
        retry = current.identity_outcome == identity.VERIFIED and _recorded(settings, request_id) is None
    if not retry:
        _record(
            settings,
            lambda s: identity.verify_identity(
                s, settings, request_id, method=method, by=by, note=note, arrived_at=arrived_at
            ),
        )
    with session_scope(settings.database.url) as session:
        request = get_request(session, request_id)
        stored_method, arrived, due = request.identity_method, request.identity_received_at, request.due_on
        received, extended = request.received_at, request.extended_due_on
    return _append(
        settings,
        ProofRecord(
            action=LedgerAction.IDENTITY,
            request_id=request_id,
            outcome=identity.VERIFIED,
            actor=by.strip(),
            details={
                "method": stored_method,
                "by": by.strip(),
                "os_user": os_user(),
                "note": text_chunks(note),
                "arrived_at": arrived.isoformat() if arrived else None,
                "received_at": received.isoformat(),
                "due": due.isoformat(),
                "extended_due": extended.isoformat() if extended else None,
            },
        ),
        recorded_key(request_id),
    )


def waive(settings: Settings, request_id: str, *, reason: str) -> LedgerEntry:
    """Record why no identity check is needed; the request can then run."""
    with session_scope(settings.database.url) as session:
        current = get_request(session, request_id)
        retry = current.identity_outcome == identity.WAIVED and _recorded(settings, request_id) is None
    if not retry:
        _record(settings, lambda s: identity.waive_identity(s, settings, request_id, reason=reason))
    user = os_user()
    with session_scope(settings.database.url) as session:
        request = get_request(session, request_id)
        received, due, extended = request.received_at, request.due_on, request.extended_due_on
    return _append(
        settings,
        ProofRecord(
            action=LedgerAction.IDENTITY,
            request_id=request_id,
            outcome=identity.WAIVED,
            actor=user,
            details={
                "method": None,
                "by": user,
                "os_user": user,
                "reason": text_chunks(reason),
                "received_at": received.isoformat(),
                "due": due.isoformat(),
                "extended_due": extended.isoformat() if extended else None,
            },
        ),
        recorded_key(request_id),
    )


def _recorded(settings: Settings, request_id: str) -> LedgerEntry | None:
    return reading_ledger(settings).store.find(recorded_key(request_id))


def identity_record(settings: Settings, request_id: str) -> identity.IdentityRecord:
    """The request's identity check as recorded in the case database and its signed ledger entry."""
    with session_scope(settings.database.url) as session:
        request = get_request(session, request_id)
        session.expunge(request)
    entry = _recorded(settings, request_id) if request.identity_outcome else None
    return identity_record_of(request, entry)


def identity_document(record: identity.IdentityRecord) -> dict[str, str | None]:
    """The JSON form shown by `dsr request show --json`, the access report and the certificate."""
    return record.as_json()
