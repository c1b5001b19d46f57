"""Signed proof-ledger entries about a request beyond the erasure itself: Art. 19 notifications of recipients,
requests to processors to erase their copies, the access package sealed and deleted, the release check's
outcome, and the request's dates when they change.

The deletion certificate reads these entries (services.certificate_entries), not the case database. Every
entry holds names from the register, channels, dates, hashes and ids: never the person's identifiers (a note
that names them is refused). Plain Python: no Prefect.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models import cases
from models.db import session_scope
from models.errors import DsrError, InputError
from models.identifiers import CLOCK_SKEW
from models.identity_record import os_user
from models.lean_write import current_actor
from models.settings import Settings
from models.tables import Request, utcnow
from proofs.entry import JSONValue, LedgerEntry, text_chunks
from proofs.ledger import LedgerAction, ProofRecord
from services.evidence import ledger_for
from services.subject import build_matcher


def register_recipients(settings: Settings) -> list[str]:
    """Every recipient the register names for any category (who an Art. 19 notification can go to)."""
    names = {r for c in settings.processing_register.categories.values() for r in c.recipients or []}
    return sorted(names)


def register_processors(settings: Settings) -> list[str]:
    """Every processor the register names (who can be asked to erase its copy)."""
    return sorted({p.name for p in settings.processing_register.processors or []})


def _check_name(option: str, name: str, known: list[str], what: str) -> str:
    """A register name, exactly: a name typed freely could carry the person's identifiers into the log."""
    if name not in known:
        allowed = "; ".join(known) or f"none: add them to [register] ({what})"
        raise InputError(f"{option} {name!r} is not a {what} in the register; known: {allowed}", option=option)
    return name


# Channels accepted without a comparison when the person's identifiers can no longer be read.
PLAIN_CHANNELS = frozenset({"email", "portal", "letter", "post", "api", "phone", "web-form", "in-person", "ticket"})


def _check_not_the_person(settings: Settings, request_id: str, option: str, text: str | None) -> None:
    """Refuse free text naming the request's subject: the proof log records what was done, not about whom.
    When there is nothing to compare with (identifiers pseudonymised, master key missing), free text is refused
    rather than written unchecked; a channel may still be one of the plain words of PLAIN_CHANNELS."""
    if not text:
        return
    try:
        matcher = build_matcher(settings, request_id)
    except DsrError:
        if option == "--channel" and text.strip().lower() in PLAIN_CHANNELS:
            return
        allowed = f"use one of: {', '.join(sorted(PLAIN_CHANNELS))}" if option == "--channel" else "leave it out"
        raise InputError(
            f"{option} cannot be checked against the person's identifiers (pseudonymised, or the master key is "
            f"missing), so it is not written to the proof log: {allowed}",
            option=option,
        ) from None
    if matcher.find(text):
        raise InputError(
            f"{option} contains one of the person's identifiers; the proof log never names them: write it "
            "without their name, e-mail address, phone number or user id",
            option=option,
        )


def _when(option: str, at: datetime | None) -> datetime:
    if at is None:
        return utcnow()
    if at.tzinfo is None:
        raise InputError(f"{option} needs a timezone offset, for example 2026-03-10T12:00:00+00:00", option=option)
    if at > datetime.now(UTC) + CLOCK_SKEW:
        raise InputError(f"{option} is in the future; give the time it happened", option=option)
    return at.astimezone(UTC)


def _append(settings: Settings, record: ProofRecord, key: str | None) -> LedgerEntry:
    ledger = ledger_for(settings)
    entry = ledger.append(record, idempotency_key=key)
    ledger.seal()  # signed at once: each of these records is evidence on its own
    return entry


def _require_request(settings: Settings, request_id: str) -> None:
    with session_scope(settings.database.url) as session:
        cases.get_request(session, request_id)


def record_notice(
    settings: Settings,
    request_id: str,
    *,
    recipient: str,
    channel: str,
    at: datetime | None = None,
    note: str | None = None,
) -> LedgerEntry:
    """Art. 19: record that a recipient named in the register was told of the erasure (a signed entry).

    Raises:
        InputError: the recipient is not in the register, `at` is in the future, or the note names the person.
        RequestNotFoundError: no such request.
    """
    _require_request(settings, request_id)
    recipient = _check_name("--recipient", recipient, register_recipients(settings), "recipient")
    when = _when("--at", at)
    _check_not_the_person(settings, request_id, "--channel", channel)
    _check_not_the_person(settings, request_id, "--note", note)
    details: dict[str, JSONValue] = {
        "recipient": recipient,
        "channel": channel,
        "sent_at": when.isoformat(),
        "note": text_chunks(note),
    }
    return _record_sent(settings, request_id, LedgerAction.NOTIFY, details, "erasure.recipient_notified")


def record_vendor_request(
    settings: Settings,
    request_id: str,
    *,
    processor: str,
    channel: str,
    at: datetime | None = None,
    reference: str | None = None,
    note: str | None = None,
) -> LedgerEntry:
    """Record that a processor named in the register was asked to erase its copy of the person's data.

    Raises:
        InputError: the processor is not in the register, `at` is in the future, or the reference or note
            names the person.
        RequestNotFoundError: no such request.
    """
    _require_request(settings, request_id)
    processor = _check_name("--processor", processor, register_processors(settings), "processor")
    when = _when("--at", at)
    _check_not_the_person(settings, request_id, "--channel", channel)
    _check_not_the_person(settings, request_id, "--reference", reference)
    _check_not_the_person(settings, request_id, "--note", note)
    details: dict[str, JSONValue] = {
        "processor": processor,
        "channel": channel,
        "sent_at": when.isoformat(),
        "reference": reference,
        "note": text_chunks(note),
    }
    return _record_sent(settings, request_id, LedgerAction.VENDOR_REQUEST, details, "erasure.vendor_request_sent")


def _record_sent(
    settings: Settings, request_id: str, action: LedgerAction, details: dict[str, JSONValue], event: str
) -> LedgerEntry:
    """A signed `sent` entry by the OS user, and an audit event that names only its ledger sequence."""
    entry = _append(
        settings,
        ProofRecord(action=action, request_id=request_id, actor=os_user(), outcome="sent", details=details),
        None,
    )
    with session_scope(settings.database.url) as session:
        cases.record_event(session, event, request_id=request_id, ledger_seq=entry.seq)
    return entry


def record_dates(settings: Settings, request_id: str, *, reason: str) -> LedgerEntry:
    """Record the request's dates as they now stand (received, due, extended due), e.g. after an extension."""
    with session_scope(settings.database.url) as session:
        request = cases.get_request(session, request_id)
        details: dict[str, JSONValue] = date_details(request)
    return _append(
        settings,
        ProofRecord(
            action=LedgerAction.REQUEST_DATES, request_id=request_id, actor=os_user(), outcome=reason, details=details
        ),
        None,
    )


def date_details(request: Request) -> dict[str, JSONValue]:
    """The dates of a request row as ledger details (what the certificate states as the request's dates)."""
    return {
        "received_at": request.received_at.isoformat(),
        "due": request.due_on.isoformat(),
        "extended_due": request.extended_due_on.isoformat() if request.extended_due_on else None,
    }


def package_delete_on(settings: Settings, issued: datetime) -> datetime:
    """When housekeeping deletes a sealed package issued at `issued`: `[access].delivery_window_days` later."""
    return issued + timedelta(days=settings.access.delivery_window_days)


def record_package_sealed(
    settings: Settings, request_id: str, *, name: str, manifest_sha256: str | None, delete_on: datetime
) -> LedgerEntry:
    """Record that an access package was sealed and issued, and the date housekeeping deletes it."""
    return _append(
        settings,
        ProofRecord(
            action=LedgerAction.PACKAGE_SEALED,
            request_id=request_id,
            actor=current_actor(),
            path=name,
            sha256_after=manifest_sha256,
            details={"delete_on": delete_on.isoformat()},
        ),
        f"package-sealed:{request_id}:{manifest_sha256 or name}",
    )


def record_package_deleted(settings: Settings, request_id: str, *, name: str, manifest_sha256: str | None) -> None:
    """Record that a sealed access package was deleted (by housekeeping, after its delivery window)."""
    _append(
        settings,
        ProofRecord(
            action=LedgerAction.PACKAGE_DELETED,
            request_id=request_id,
            actor=current_actor(),
            path=name,
            sha256_before=manifest_sha256,
        ),
        f"package-deleted:{request_id}:{manifest_sha256 or name}",
    )


def record_release_check(
    settings: Settings, request_id: str, *, passed: bool, items: list[dict[str, str]], released: int
) -> None:
    """Record the release check's outcome: item ids, files, places and reason codes (never the text found)."""
    _append(
        settings,
        ProofRecord(
            action=LedgerAction.RELEASE_CHECK,
            request_id=request_id,
            actor=current_actor(),
            outcome="passed" if passed else "blocked",
            counts={"items": len(items), "released": released},
            details={"items": [{"item": i["item"], "reason": i["reason"]} for i in items[:200]]},
        ),
        None,
    )
