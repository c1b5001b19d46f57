"""The deletion certificate of an erasure: every erased, kept and not-reached item, every re-scan result, the
approval, the identity check, the Art. 19 notifications, the requests to processors, the request's dates and
the person's retained access package come from signed ledger entries (services.certificate_entries). The case
database adds only the locations not reached at all, which requests are the same person's (keyed hashes of
their e-mail addresses, phone numbers and user ids), and, for records older than these ledger entries, the
request's dates and Art. 19 notices (the certificate says so and cites no entry for them). Then the request
is completed, completed with gaps, or left in progress.

Items the product could not read or change are "not reached" with their reason (a gap, never an Art. 17(3)
exception). While one remains the request is never `completed`: it is `completed_with_gaps`, or stays
`in_progress` when `[erasure] on_gaps = "stay_open"`.

Plain Python: no Prefect. States only what the ledger shows; what comes from the case database says so.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session, select

from erasure.executor import ExecutionReport
from erasure.plan import ActionKind, PlannedAction, Reason
from erasure.verify import VerificationResult
from models import cases
from models.db import session_scope
from models.errors import LedgerError
from models.files import atomic_write
from models.holds import requests_with_hashes
from models.lifecycle import effective_due
from models.settings import Settings
from models.tables import ErasurePlanRecord, LocationScan, RecipientNotice, Request, utcnow
from models.types import LocationStatus, RequestStatus
from proofs.attestation import SIGNATURE_SUFFIX, sign_certificate
from proofs.entry import SignedHead
from proofs.ledger import Coverage, Ledger, head_document
from reports.certificate import CertificateInput, LedgerCoverage, UnreachedLocation, build_certificate
from reports.certificate import RecipientNotice as CertificateNotice
from reports.certificate import VerificationResult as CertificateVerification
from services.certificate_entries import LedgerSections, ledger_sections, retained_package
from services.erasure import DISCOVERY, approval_of, approved_plan, latest_plan
from services.evidence import ledger_for, publish_evidence
from services.identity import identity_record
from services.staging import staging_dir

_NOT_REACHED_TEXT = {
    "symlink_out_of_scope": "A link leading outside the area searched: never followed, so what it points to was "
    "not searched or changed.",
    "symlink_loop": "A link that leads back into itself: it cannot be followed.",
    "special_file": "A pipe, socket or device rather than a file: never opened.",
    "permission_denied": "The laptop or store did not let us read it.",
    "not_read": "It names you, but its content could not be read whole, so it was not changed.",
    "vanished": "It disappeared while it was being read.",
    "path_too_long": "Its path is longer than the system can open.",
    "unreadable_name": "Its name could not be read.",
}
# Reasons of plans made before items not reached had their own action kind (then listed as exceptions).
_LEGACY_GAP_REASONS = frozenset({Reason.NOT_REACHED.value, Reason.NOT_IDENTIFIED.value})


def is_gap(action: PlannedAction) -> bool:
    """Whether a planned action is an item not reached (a gap), including plans of the older form."""
    return action.kind is ActionKind.NOT_REACHED or (
        action.kind is ActionKind.EXCEPTION and action.reason in _LEGACY_GAP_REASONS
    )


# A re-scan entry's result in the certificate's terms: a location not re-scanned is never "clean".
_RESCAN_STATUS = {"clean": "clean", "findings_remain": "findings_remain"}


def _rescans(sections: LedgerSections, gap_locations: set[str]) -> tuple[CertificateVerification, ...]:
    """The checks after erasure, one per location, as the last `verify` entry of each states them."""
    out = []
    for location, entry in sorted(sections.rescans.items()):
        status = _RESCAN_STATUS.get(entry.record.verification or "", "not_verified")
        if status == "clean" and location in gap_locations:
            status = "gaps"
        out.append(
            CertificateVerification(
                location=location,
                status=status,
                remaining=entry.record.counts.get("findings_remaining", 0),
                verified_at=entry.at,
                ledger_seq=entry.seq,
            )
        )
    return tuple(out)


def _same_person(settings: Settings, request_id: str) -> set[str]:
    """The request and every other request sharing one of its e-mail addresses, phone numbers or user ids (by
    keyed hash, never by value; names are left out, since two people can share one)."""
    with session_scope(settings.database.url) as session:
        hashes = {i.keyed_hash for i in cases.identifiers_of(session, request_id) if i.kind != "name"}
        return {request_id, *requests_with_hashes(session, hashes)}


def _notices(session: Session, request_id: str, sections: LedgerSections) -> tuple[CertificateNotice, ...]:
    """The `notify` entries, plus notices recorded in the case database before notifications were ledger
    entries (for recipients with no entry; shown without a proof entry, so the certificate cites none)."""
    told = {n.recipient for n in sections.notices}
    legacy = session.exec(select(RecipientNotice).where(RecipientNotice.request_id == request_id)).all()
    older = tuple(
        CertificateNotice(recipient=n.recipient, notified_at=n.notified_at, channel=n.channel, reply=n.reply)
        for n in legacy
        if n.recipient not in told
    )
    return (*sections.notices, *older)


def erasure_outcome(settings: Settings, request_id: str) -> str:
    """What a run of the erasure came to: `completed`, `completed_with_gaps`, or `incomplete` (still open)."""
    with session_scope(settings.database.url) as session:
        status = RequestStatus(cases.get_request(session, request_id).status)
    if status in (RequestStatus.COMPLETED, RequestStatus.COMPLETED_WITH_GAPS):
        return status.value
    return "incomplete"


def certify(
    settings: Settings,
    request_id: str,
    reports: list[ExecutionReport],
    verification: VerificationResult,
) -> Path:
    """Write the deletion certificate (HTML and JSON) and complete the request when verification is clean.

    The certificate reads the ledger entries the execution (`reports`) and the re-scan (`verification`) wrote,
    not the reports themselves; `verification` decides only whether the request closes.
    """
    plan = approved_plan(settings, request_id)
    record = latest_plan(settings, request_id)
    ledger = ledger_for(settings)
    head = ledger.signed_head()  # seals first: the certificate is built from this head and signed with its key
    coverage = ledger.coverage(request_id)
    approval = approval_of(settings, request_id)
    # Every erased, kept and not-reached item and every re-scan result is one ledger entry of the request.
    people = _same_person(settings, request_id)
    entries = [e for e in ledger.entries() if e.seq <= head.last_seq and e.record.request_id in people]
    sections = ledger_sections(
        settings,
        (e for e in entries if e.record.request_id == request_id),
        _NOT_REACHED_TEXT,
        "It could not be read or changed.",
    )
    dates = sections.dates
    gaps = [a for a in plan.actions if is_gap(a)]
    with session_scope(settings.database.url) as session:
        request: Request = cases.get_request(session, request_id)
        scans = cases.location_scans(session, request_id)
        unreached = _unreached(settings, scans)
        finished = verification.clean and not unreached
        closes = finished and (not gaps or settings.erasure.on_gaps == "complete_with_gaps")
        verifications = _rescans(sections, {n.location for n in sections.not_reached})
        certificate_input = CertificateInput(
            request_id=request_id,
            generated_at=utcnow(),
            # The dates as a ledger entry records them; a request older than dated entries: the case database.
            received_at=dates.received_at if dates else request.received_at,
            due=dates.due if dates else effective_due(request),
            dates_ledger_seq=dates.ledger_seq if dates else None,
            controller=settings.controller,
            register=settings.processing_register,
            erased_categories=tuple(sorted(settings.processing_register.categories)),
            erased=sections.erased,
            kept=sections.kept,
            unreached=tuple(unreached),
            residual=sections.residual,
            verification=verifications,
            ledger=_coverage(coverage, head),
            notifications=_notices(session, request_id, sections),
            vendor_requests=sections.vendor_requests,
            completed_at=utcnow() if closes else None,
            # The approval and the identity check as their signed ledger entries state them.
            approved_by=approval.reviewer if approval else None,
            approved_at=approval.at if approval else None,
            approval_note=approval.note if approval else None,
            approval_digest=approval.plan_digest if approval else None,
            approval_user=approval.authenticated_user if approval else None,
            approval_channel=approval.channel if approval else None,
            approval_ledger_seq=approval.ledger_seq if approval else None,
            identity=identity_record(settings, request_id),
            not_reached=sections.not_reached,
            retained_package=retained_package(entries),
        )
    html_path = _write_certificate(settings, certificate_input, ledger, head, signed=coverage is not None)
    outcome = _Outcome(finished, len(gaps), len(verification.remaining), len(unreached))
    _record_outcome(settings, request_id, html_path, record, plan.digest, outcome)
    if closes:
        shutil.rmtree(staging_dir(settings, request_id), ignore_errors=True)
    return html_path


def _unreached(settings: Settings, scans: Sequence[LocationScan]) -> list[UnreachedLocation]:
    """Locations whose discovery has not finished (not reached yet: retried at the next sweep)."""
    stores = {st.name for st in settings.stores}
    return [
        UnreachedLocation(
            name=s.location,
            type="store" if s.location in stores else "endpoint",
            status=s.status,
            reason=s.reason,
            since=s.first_attempt_at,
            attempts=s.attempts,
            next_step="retried at the next sweep",
        )
        for s in scans
        if s.phase == DISCOVERY and not LocationStatus(s.status).is_final
    ]


def _coverage(coverage: Coverage | None, head: SignedHead) -> LedgerCoverage | None:
    """The request's ledger coverage and the signed head the certificate is built from."""
    if coverage is None:
        return None
    checkpoint = coverage.checkpoint
    return LedgerCoverage(
        seq_first=coverage.seq_first,
        seq_last=coverage.seq_last,
        checkpoint_seq_from=checkpoint.seq_from if checkpoint else None,
        checkpoint_seq_to=checkpoint.seq_to if checkpoint else None,
        head_hash=checkpoint.head_hash if checkpoint else None,
        checkpoint_at=checkpoint.at if checkpoint else None,
        key_id=checkpoint.key_id if checkpoint else None,
        signature=checkpoint.signature if checkpoint else None,
        head_seq=head.last_seq,
        head_entry_hash=head.last_hash,
    )


def _write_certificate(
    settings: Settings, certificate_input: CertificateInput, ledger: Ledger, head: SignedHead, *, signed: bool
) -> Path:
    """Write the certificate (HTML, JSON, its detached signature when `signed`) and the signed ledger head,
    and copy each to the evidence bucket; returns the HTML path."""
    request_id = certificate_input.request_id
    signer = ledger.signer
    if signer is None:  # ledger_for always opens the ledger with its key
        raise LedgerError("cannot sign the certificate: no ledger signing key", key="ledger.signing_key")
    out_dir = settings.access.package_dir / "certificates"
    html_path, json_path = build_certificate(
        certificate_input,
        out_dir,
        sign=(
            lambda document: sign_certificate(
                signer, document, request_id=request_id, head_seq=head.last_seq, head_hash=head.last_hash
            )
        )
        if signed
        else None,
    )
    written = [html_path, json_path]
    if signed:
        written.append(json_path.with_name(json_path.name + SIGNATURE_SUFFIX))
    # The signed head the privacy team files with the certificate: `dsr ledger verify --head` checks against it.
    head_path = out_dir / f"{request_id}-ledger-head.json"
    atomic_write(head_path, head_document(head, signer))
    written.append(head_path)
    for path in written:
        publish_evidence(settings, request_id, path, "certificate")
    return html_path


@dataclass(frozen=True)
class _Outcome:
    """What the run came to: verification finished, and how many items are gaps, remain or were unreached."""

    finished: bool
    gaps: int
    remaining: int
    unreached: int


def _record_outcome(
    settings: Settings,
    request_id: str,
    html_path: Path,
    record: ErasurePlanRecord | None,
    digest: str,
    outcome: _Outcome,
) -> None:
    """Store the certificate's path, mark the plan executed and move the request to its new status."""
    with session_scope(settings.database.url) as session:
        request = cases.get_request(session, request_id)
        request.certificate_path = str(html_path)
        plan_row = session.get(ErasurePlanRecord, record.id) if record else None
        if plan_row is not None:
            plan_row.executed_at = utcnow()
            session.add(plan_row)
        if outcome.finished and not outcome.gaps:
            cases.transition(
                session,
                request,
                RequestStatus.COMPLETED,
                action="erasure.completed",
                plan_digest=digest,
                remaining=0,
            )
        elif outcome.finished and settings.erasure.on_gaps == "complete_with_gaps":
            cases.transition(
                session,
                request,
                RequestStatus.COMPLETED_WITH_GAPS,
                action="erasure.completed_with_gaps",
                plan_digest=digest,
                remaining=0,
                not_reached=outcome.gaps,
            )
        elif outcome.finished:
            cases.transition(
                session,
                request,
                RequestStatus.IN_PROGRESS,
                action="erasure.gaps_open",
                plan_digest=digest,
                remaining=0,
                not_reached=outcome.gaps,
            )
        else:
            cases.transition(
                session,
                request,
                RequestStatus.IN_PROGRESS,
                action="erasure.incomplete",
                plan_digest=digest,
                remaining=outcome.remaining,
                unreached=outcome.unreached,
                not_reached=outcome.gaps,
            )
