"""What a request's signed ledger entries say, in the certificate's terms: erased, kept, not reached, the
copies never searched, and the re-scan results.

Every item of these sections comes from one ledger entry of the request (its sequence number is kept), so
the certificate states nothing the ledger does not show. Plain Python: no Prefect.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from models.settings import Settings
from proofs.entry import LedgerAction, LedgerEntry
from reports.certificate import ErasedEntry, KeptEntry, NotReachedItem, ResidualCopy

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
}
_EXPLANATION = {
    "residual_store": "A disk image or browser storage of the AI app: never edited and not searched after erasure; "
    "removed when the app's storage is reset or the laptop is re-imaged.",
    "object_lock": "The stored version is under an Object Lock retention or legal hold and cannot be deleted "
    "before its date.",
    "vendor_side_copy": "Copies held by the AI vendor (cloud sessions, compliance captures): not searched by us.",
    "encrypted_store": "Conversations the AI app stores encrypted on the laptop: they cannot be searched.",
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


def _residual(entry: LedgerEntry) -> ResidualCopy:
    record = entry.record
    ground = record.exception_ground or ""
    vendor = record.location == "vendor" or ground == "vendor_side_copy"
    return ResidualCopy(
        name="AI vendor (cloud copies)" if vendor else f"{record.location}: {record.path or ''}",
        type="vendor" if vendor else "residual",
        description=_EXPLANATION.get(ground, "Kept as recorded in the proof log."),
        # No ledger entry records a request to the vendor: the certificate says so rather than "requested".
        handling="Request to the vendor: not yet sent (no record in the proof log)"
        if vendor or ground == "encrypted_store"
        else "Never edited; removed at the next storage reset or re-image",
    )


def ledger_sections(
    settings: Settings, entries: Iterable[LedgerEntry], explain: dict[str, str], fallback: str
) -> LedgerSections:
    """The certificate sections of one request's entries (in seq order); `explain` words not-reached reasons."""
    erased: list[ErasedEntry] = []
    kept: list[KeptEntry] = []
    not_reached: list[NotReachedItem] = []
    residual: list[ResidualCopy] = []
    rescans: dict[str, LedgerEntry] = {}
    for entry in entries:
        record = entry.record
        if record.action in _ERASED and record.outcome in _ERASED_OUTCOMES:
            erased.append(_erased(settings, entry))
        elif record.action is LedgerAction.EXCEPTION:
            kept.append(_kept(settings, entry))
            if (record.exception_ground or "") in NOT_SEARCHED_GROUNDS or record.location == "vendor":
                residual.append(_residual(entry))
        elif record.action is LedgerAction.SKIP and record.outcome == "not_reached":
            reason = str(record.details.get("reason") or "not_reached")
            not_reached.append(
                NotReachedItem(
                    location=record.location or "",
                    location_type=_location_type(settings, record.location),
                    path=record.path or "",
                    reason=reason,
                    explanation=explain.get(reason, fallback),
                    ledger_seq=entry.seq,
                )
            )
        elif record.action is LedgerAction.VERIFY and record.location:
            rescans[record.location] = entry
    return LedgerSections(tuple(erased), tuple(kept), tuple(not_reached), tuple(residual), rescans)
