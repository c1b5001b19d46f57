"""What a request's signed ledger entries say, in the certificate's terms: erased, kept, not reached, the
copies never searched, the re-scan results, the Art. 19 notifications, the requests to processors, the
request's dates, and the person's access package still retained.

Every item of these sections comes from one ledger entry of the request (its sequence number is kept), so
the certificate states nothing the ledger does not show. Plain Python: no Prefect.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from models.settings import Settings
from proofs.entry import LedgerAction, LedgerEntry
from reports.certificate import (
    ErasedEntry,
    KeptEntry,
    NotReachedItem,
    RecipientNotice,
    ResidualCopy,
    RetainedPackage,
    VendorRequest,
)

_ERASED = {
    LedgerAction.DELETE_FILE: "delete_file",
    LedgerAction.DELETE_SESSION: "delete_session",
    LedgerAction.REDACT_LINES: "redact_in_place",
    LedgerAction.DELETE_S3_VERSION: "delete_version",
}
_ERASED_OUTCOMES = frozenset({"done", "already_absent"})
_ARTICLE = {
    "legal_hold": "Art. 17(3)(e)",
    "legal_claims": "Art. 17(3)(e)",
    "legal_obligation": "Art. 17(3)(b)",
    "public_interest_health": "Art. 17(3)(c)",
    "archiving": "Art. 17(3)(d)",
    "freedom_of_expression": "Art. 17(3)(a)",
    "object_lock": "Art. 17(3)(b)",
    "residual_store": "no Art. 17(3) ground: a residual store",
    "encrypted_store": "no Art. 17(3) ground: an encrypted store",
    "vendor_side_copy": "no Art. 17(3) ground: a copy held by the AI vendor",
    "not_erasable_in_place": "no Art. 17(3) ground: another person's file that can only be deleted whole",
}
_EXPLANATION = {
    "residual_store": "A disk image or browser storage of the AI app: never edited and not searched after erasure; "
    "removed when the app's storage is reset or the laptop is re-imaged.",
    "object_lock": "The stored version is under an Object Lock retention or legal hold and cannot be deleted "
    "before its date.",
    "vendor_side_copy": "Copies held by the AI vendor (cloud sessions, compliance captures): not searched by us.",
    "encrypted_store": "Conversations the AI app stores encrypted on the laptop: they cannot be searched.",
    "not_erasable_in_place": "Lines in another person's conversation that its AI app allows deleting only as a "
    "whole file: not rewritten, and not deleted with the rest of that person's conversation; the privacy team "
    "decides (delete by hand, with the app closed, or ask the vendor).",
}
# Grounds of kept items nobody searched after the erasure: listed as "not searched", never as verified.
NOT_SEARCHED_GROUNDS = frozenset({"residual_store", "encrypted_store", "vendor_side_copy"})
_ITEM_COUNTS = ("lines_redacted", "records", "records_deleted", "lines", "versions_deleted", "files_deleted")


@dataclass(frozen=True)
class LedgerSections:
    """The certificate sections built from one request's ledger entries."""

    erased: tuple[ErasedEntry, ...]
    kept: tuple[KeptEntry, ...]
    not_reached: tuple[NotReachedItem, ...]
    residual: tuple[ResidualCopy, ...]
    rescans: dict[str, LedgerEntry]
    """Per location, its last re-scan (`verify`) entry."""
    notices: tuple[RecipientNotice, ...] = ()
    """Per recipient, its last `notify` entry."""
    vendor_requests: tuple[VendorRequest, ...] = ()
    """Every `vendor_request` entry, then the register's processors not yet asked (when a vendor copy is kept)."""
    dates: RequestDates | None = None
    """The request's dates as its last dated entry (identity check, extension) records them."""


@dataclass(frozen=True)
class RequestDates:
    """A request's received time and due date as a ledger entry records them."""

    received_at: datetime
    due: date
    ledger_seq: int


def _location_type(settings: Settings, location: str | None) -> str:
    if location == "vendor":
        return "vendor"
    return "store" if location in {s.name for s in settings.stores} else "endpoint"


def _items(entry: LedgerEntry) -> int:
    counts = entry.record.counts
    return max(1, next((counts[k] for k in _ITEM_COUNTS if counts.get(k)), 1))


def _erased(settings: Settings, entry: LedgerEntry) -> ErasedEntry:
    record = entry.record
    operation = record.details.get("operation")
    action = _ERASED.get(record.action) or str(operation or record.action)
    app = record.details.get("app")
    return ErasedEntry(
        location=record.location or "",
        location_type=_location_type(settings, record.location),
        path=record.path or "",
        action=action,
        items=_items(entry),
        sha256_before=record.sha256_before,
        sha256_after=record.sha256_after,
        version_id=record.version_id,
        ledger_seq=entry.seq,
        at=entry.at,
        agent=app if isinstance(app, str) else None,
    )


def _kept(settings: Settings, entry: LedgerEntry) -> KeptEntry:
    record = entry.record
    ground = record.exception_ground or "exception"
    hold_id = record.details.get("hold_id")
    hold = next((h for h in settings.holds if h.id == hold_id), None)
    lines = record.details.get("lines")
    return KeptEntry(
        location=record.location or "",
        location_type=_location_type(settings, record.location),
        path=record.path or "",
        items=max(1, len(lines)) if isinstance(lines, list) else 1,
        ground=ground,
        article=_ARTICLE.get(ground, "Art. 17(3)"),
        explanation=_EXPLANATION.get(ground, "Kept under an Art. 17(3) exception."),
        reference=hold.case_reference if hold else (hold_id if isinstance(hold_id, str) else None),
        review_date=hold.review_date if hold else None,
        sha256=record.sha256_before,
        ledger_seq=entry.seq,
    )


def _vendor_handling(sent: list[VendorRequest]) -> str:
    """What was done about a vendor-held copy, as the `vendor_request` entries state it."""
    if not sent:
        return "Request to the vendor: not yet sent (no record in the proof log)"
    return "; ".join(
        f"Asked {v.processor} to erase its copy on {v.sent_at.date().isoformat() if v.sent_at else 'an unknown date'}"
        f" (proof entry {v.ledger_seq})"
        for v in sent
    )


def _residual(entry: LedgerEntry, sent: list[VendorRequest]) -> ResidualCopy:
    record = entry.record
    ground = record.exception_ground or ""
    vendor = record.location == "vendor" or ground == "vendor_side_copy"
    return ResidualCopy(
        name="AI vendor (cloud copies)" if vendor else f"{record.location}: {record.path or ''}",
        type="vendor" if vendor else "residual",
        description=_EXPLANATION.get(ground, "Kept as recorded in the proof log."),
        handling=_vendor_handling(sent)
        if vendor or ground == "encrypted_store"
        else "Never edited; removed at the next storage reset or re-image",
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _instant(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _notice(entry: LedgerEntry) -> RecipientNotice:
    details = entry.record.details
    return RecipientNotice(
        recipient=str(details.get("recipient") or ""),
        notified_at=_instant(details.get("sent_at")) or entry.at,
        channel=_text(details.get("channel")),
        ledger_seq=entry.seq,
    )


def _vendor_request(entry: LedgerEntry) -> VendorRequest:
    details = entry.record.details
    return VendorRequest(
        processor=_text(details.get("processor")),
        status="sent",
        sent_at=_instant(details.get("sent_at")) or entry.at,
        channel=_text(details.get("channel")),
        reference=_text(details.get("reference")),
        ledger_seq=entry.seq,
    )


def _dates(entry: LedgerEntry) -> RequestDates | None:
    """The dates an identity or `request_dates` entry records (None when it records none)."""
    details = entry.record.details
    received = _instant(details.get("received_at"))
    due_text = _text(details.get("extended_due")) or _text(details.get("due"))
    if received is None or due_text is None:
        return None
    try:
        due = date.fromisoformat(due_text)
    except ValueError:
        return None
    return RequestDates(received_at=received, due=due, ledger_seq=entry.seq)


def vendor_requests(settings: Settings, sent: list[VendorRequest], vendor_kept: bool) -> tuple[VendorRequest, ...]:
    """Every request sent, then (when a vendor-held copy is kept) each register processor not yet asked."""
    if not vendor_kept:
        return tuple(sent)
    asked = {v.processor for v in sent}
    processors = [p.name for p in settings.processing_register.processors or []]
    pending = [VendorRequest(processor=name, status="not_yet_sent") for name in processors if name not in asked]
    if not processors and not sent:
        pending = [VendorRequest(processor=None, status="not_yet_sent")]
    return (*sent, *pending)


def retained_package(entries: Iterable[LedgerEntry]) -> RetainedPackage | None:
    """The person's newest sealed access package with no `package_deleted` entry after it (entries in seq
    order, of every request of the person)."""
    sealed: dict[tuple[str | None, str | None], LedgerEntry] = {}
    for entry in entries:
        record = entry.record
        key = (record.request_id, record.path)
        if record.action is LedgerAction.PACKAGE_SEALED:
            sealed[key] = entry
        elif record.action is LedgerAction.PACKAGE_DELETED:
            sealed.pop(key, None)
    if not sealed:
        return None
    newest = max(sealed.values(), key=lambda e: e.seq)
    return RetainedPackage(
        name=newest.record.path or "",
        sha256=newest.record.sha256_after,
        delete_on=_instant(newest.record.details.get("delete_on")),
        request_id=newest.record.request_id,
        ledger_seq=newest.seq,
    )


def ledger_sections(
    settings: Settings, entries: Iterable[LedgerEntry], explain: dict[str, str], fallback: str
) -> LedgerSections:
    """The certificate sections of one request's entries (in seq order); `explain` words not-reached reasons."""
    erased: list[ErasedEntry] = []
    kept: list[KeptEntry] = []
    not_reached: list[NotReachedItem] = []
    residual_entries: list[LedgerEntry] = []
    rescans: dict[str, LedgerEntry] = {}
    notices: dict[str, RecipientNotice] = {}
    sent: list[VendorRequest] = []
    dates: RequestDates | None = None
    for entry in entries:
        record = entry.record
        if record.action in _ERASED and record.outcome in _ERASED_OUTCOMES:
            erased.append(_erased(settings, entry))
        elif record.action is LedgerAction.EXCEPTION:
            kept.append(_kept(settings, entry))
            if (record.exception_ground or "") in NOT_SEARCHED_GROUNDS or record.location == "vendor":
                residual_entries.append(entry)
        elif record.action is LedgerAction.SKIP and record.outcome == "not_reached":
            not_reached.append(_not_reached(settings, entry, explain, fallback))
        elif record.action is LedgerAction.VERIFY and record.location:
            rescans[record.location] = entry
        elif record.action is LedgerAction.NOTIFY:
            notice = _notice(entry)
            notices[notice.recipient] = notice
        elif record.action is LedgerAction.VENDOR_REQUEST:
            sent.append(_vendor_request(entry))
        elif record.action in (LedgerAction.IDENTITY, LedgerAction.REQUEST_DATES):
            dates = _dates(entry) or dates
    vendor_kept = any(
        e.record.location == "vendor" or e.record.exception_ground in ("vendor_side_copy", "encrypted_store")
        for e in residual_entries
    )
    return LedgerSections(
        erased=tuple(erased),
        kept=tuple(kept),
        not_reached=tuple(not_reached),
        residual=tuple(_residual(e, sent) for e in residual_entries),
        rescans=rescans,
        notices=tuple(notices.values()),
        vendor_requests=vendor_requests(settings, sent, vendor_kept),
        dates=dates,
    )


def _not_reached(settings: Settings, entry: LedgerEntry, explain: dict[str, str], fallback: str) -> NotReachedItem:
    record = entry.record
    reason = str(record.details.get("reason") or "not_reached")
    return NotReachedItem(
        location=record.location or "",
        location_type=_location_type(settings, record.location),
        path=record.path or "",
        reason=reason,
        explanation=explain.get(reason, fallback),
        ledger_seq=entry.seq,
    )
