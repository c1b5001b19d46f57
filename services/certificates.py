"""The deletion certificate of an erasure: assembled from the approved plan, the signed ledger's coverage,
the verification re-scan and the case database; then the request is completed, completed with gaps, or
left in progress.

Items the product could not read or change are "not reached" with their reason (a gap, never an Art. 17(3)
exception). While one remains the request is never `completed`: it is `completed_with_gaps`, or stays
`in_progress` when `[erasure] on_gaps = "stay_open"`.

Plain Python: no Prefect. States only what the plan, the ledger and the re-scan say.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlmodel import select

from erasure.executor import ExecutionReport
from erasure.plan import ActionKind, PlannedAction, Reason
from erasure.proof_path import proof_path
from erasure.verify import VerificationResult
from models import cases
from models.db import session_scope
from models.errors import LedgerError
from models.files import atomic_write
from models.settings import Settings
from models.tables import ErasurePlanRecord, RecipientNotice, Request, utcnow
from models.types import LocationStatus, RequestStatus
from proofs.attestation import SIGNATURE_SUFFIX, sign_certificate
from proofs.ledger import head_document
from reports.certificate import (
    CertificateInput,
    ErasedEntry,
    KeptEntry,
    LedgerCoverage,
    NotReachedItem,
    ResidualCopy,
    UnreachedLocation,
    build_certificate,
)
from reports.certificate import RecipientNotice as CertificateNotice
from reports.certificate import VerificationResult as CertificateVerification
from services.erasure import DISCOVERY, approval_of, approved_plan, latest_plan
from services.evidence import ledger_for, publish_evidence
from services.identity import identity_record
from services.staging import staging_dir

_ACTION_TEXT = {
    ActionKind.DELETE_SESSION: "delete_session",
    ActionKind.DELETE_FILE: "delete_file",
    ActionKind.REDACT: "redact_in_place",
    ActionKind.S3_ERASE_OBJECT: "delete_object",
    ActionKind.S3_REWRITE: "redact_in_place",
    ActionKind.S3_DELETE_VERSIONS: "delete_version",
}
_ARTICLE = {
    "legal_hold": "Art. 17(3)(e)",
    "legal_claims": "Art. 17(3)(e)",
    "legal_obligation": "Art. 17(3)(b)",
    "public_interest_health": "Art. 17(3)(c)",
    "archiving": "Art. 17(3)(d)",
    "freedom_of_expression": "Art. 17(3)(a)",
    "object_lock": "Art. 17(3)(b)",
}


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


def _not_reached(action: PlannedAction, ledger_seq: int | None) -> NotReachedItem:
    reason = action.reason if action.kind is ActionKind.NOT_REACHED else (action.ground or action.reason)
    return NotReachedItem(
        location=action.location,
        location_type=action.location_type,
        path=proof_path(action.path) or "",
        reason=reason,
        explanation=_NOT_REACHED_TEXT.get(reason, "It could not be read or changed."),
        ledger_seq=ledger_seq,
    )


def _kept(action: PlannedAction, settings: Settings) -> KeptEntry:
    hold = next((h for h in settings.holds if h.id == action.hold_id), None)
    ground = action.ground or action.reason
    explanation = action.note or {
        "residual_store": "A disk image or browser storage of the AI app: never edited; removed when the app's "
        "storage is reset or the laptop is re-imaged.",
        "object_lock": "The stored version is under an Object Lock retention or legal hold and cannot be deleted "
        "before its date.",
        "vendor_side_copy": "Copies held by the AI vendor (cloud sessions, compliance captures): requested from "
        "the vendor separately.",
        "encrypted_store": "Conversations the AI app stores encrypted on the laptop: they cannot be searched; they "
        "are deleted whole only where other evidence puts them in scope, and the vendor is asked for its copy.",
    }.get(ground, "Kept under an Art. 17(3) exception.")
    return KeptEntry(
        location=action.location,
        location_type=action.location_type,
        path=proof_path(action.path) or "",
        items=max(1, len(action.lines)),
        ground=ground,
        article=_ARTICLE.get(ground, "Art. 17(3)"),
        explanation=explanation,
        reference=(hold.case_reference if hold else action.hold_id),
        review_date=hold.review_date if hold else None,
    )


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
    """Write the deletion certificate (HTML and JSON) and complete the request when verification is clean."""
    plan = approved_plan(settings, request_id)
    record = latest_plan(settings, request_id)
    ledger = ledger_for(settings)
    head = ledger.signed_head()  # seals first: the certificate is built from this head and signed with its key
    coverage = ledger.coverage(request_id)
    approval = approval_of(settings, request_id)
    outcomes = {o.action_id: o for r in reports for o in r.outcomes}
    erased = []
    for action in plan.actions:
        if action.kind in (ActionKind.EXCEPTION, ActionKind.NOT_REACHED):
            continue
        outcome = outcomes.get(action.action_id)
        target = action.target
        erased.append(
            ErasedEntry(
                location=action.location,
                location_type=action.location_type,
                path=proof_path(action.path) or "",
                action=_ACTION_TEXT.get(action.kind, action.kind.value),
                items=max(1, len(action.lines) or len(action.records) or len(action.files) or len(action.version_ids)),
                sha256_before=target.sha256 if target else None,
                sha256_after=None,
                version_id=action.version_ids[0] if action.version_ids else None,
                ledger_seq=outcome.ledger_seq if outcome else None,
                at=utcnow(),
                agent=action.app,
            )
        )
    gaps = [a for a in plan.actions if is_gap(a)]
    not_reached = [_not_reached(a, outcomes[a.action_id].ledger_seq if a.action_id in outcomes else None) for a in gaps]
    kept = [
        _kept(a, settings)
        for a in plan.exceptions
        if a.location_type != "vendor" and a.ground not in ("residual_store", "encrypted_store") and not is_gap(a)
    ]
    residual = [
        ResidualCopy(
            name=f"{a.location}: {proof_path(a.path) or 'AI vendor'}"
            if a.location_type != "vendor"
            else "AI vendor (cloud copies)",
            type="vendor" if a.location_type == "vendor" else "residual",
            description=_kept(a, settings).explanation,
            handling="Requested from the vendor separately"
            if a.location_type == "vendor" or a.ground == "encrypted_store"
            else "Never edited; removed at the next storage reset or re-image",
        )
        for a in plan.exceptions
        if a.location_type == "vendor" or a.ground in ("residual_store", "encrypted_store")
    ]
    with session_scope(settings.database.url) as session:
        request: Request = cases.get_request(session, request_id)
        scans = cases.location_scans(session, request_id)
        unreached = [
            UnreachedLocation(
                name=s.location,
                type="store" if s.location in {st.name for st in settings.stores} else "endpoint",
                status=s.status,
                reason=s.reason,
                since=s.first_attempt_at,
                attempts=s.attempts,
                next_step="retried at the next sweep",
            )
            for s in scans
            if s.phase == DISCOVERY and not LocationStatus(s.status).is_final
        ]
        finished = verification.clean and not unreached
        closes = finished and (not gaps or settings.erasure.on_gaps == "complete_with_gaps")
        notices = session.exec(select(RecipientNotice).where(RecipientNotice.request_id == request_id)).all()
        checked = set(verification.checked_locations)
        remaining: dict[str, int] = {}
        for finding in verification.remaining:
            remaining[finding.location] = remaining.get(finding.location, 0) + 1
        gap_locations = {a.location for a in gaps}
        verifications = [
            CertificateVerification(
                location=name,
                status="findings_remain" if remaining.get(name) else "gaps" if name in gap_locations else "clean",
                remaining=remaining.get(name, 0),
                verified_at=utcnow(),
            )
            for name in sorted(checked)
        ]
        checkpoint = coverage.checkpoint if coverage else None
        certificate_input = CertificateInput(
            request_id=request_id,
            generated_at=utcnow(),
            received_at=request.received_at,
            due=cases.effective_due(request),
            controller=settings.controller,
            register=settings.processing_register,
            erased_categories=tuple(sorted(settings.processing_register.categories)),
            erased=tuple(erased),
            kept=tuple(kept),
            unreached=tuple(unreached),
            residual=tuple(residual),
            verification=tuple(verifications),
            ledger=LedgerCoverage(
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
            if coverage
            else None,
            notifications=tuple(
                CertificateNotice(recipient=n.recipient, notified_at=n.notified_at, channel=n.channel, reply=n.reply)
                for n in notices
            ),
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
            not_reached=tuple(not_reached),
        )
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
        if coverage
        else None,
    )
    written = [html_path, json_path]
    if coverage:
        written.append(json_path.with_name(json_path.name + SIGNATURE_SUFFIX))
    # The signed head the privacy team files with the certificate: `dsr ledger verify --head` checks against it.
    head_path = out_dir / f"{request_id}-ledger-head.json"
    atomic_write(head_path, head_document(head, signer))
    written.append(head_path)
    for path in written:
        publish_evidence(settings, request_id, path, "certificate")
    with session_scope(settings.database.url) as session:
        request = cases.get_request(session, request_id)
        request.certificate_path = str(html_path)
        plan_row = session.get(ErasurePlanRecord, record.id) if record else None
        if plan_row is not None:
            plan_row.executed_at = utcnow()
            session.add(plan_row)
        if finished and not gaps:
            cases.transition(
                session,
                request,
                RequestStatus.COMPLETED,
                action="erasure.completed",
                plan_digest=plan.digest,
                remaining=0,
            )
        elif finished and settings.erasure.on_gaps == "complete_with_gaps":
            cases.transition(
                session,
                request,
                RequestStatus.COMPLETED_WITH_GAPS,
                action="erasure.completed_with_gaps",
                plan_digest=plan.digest,
                remaining=0,
                not_reached=len(gaps),
            )
        elif finished:
            cases.transition(
                session,
                request,
                RequestStatus.IN_PROGRESS,
                action="erasure.gaps_open",
                plan_digest=plan.digest,
                remaining=0,
                not_reached=len(gaps),
            )
        else:
            cases.transition(
                session,
                request,
                RequestStatus.IN_PROGRESS,
                action="erasure.incomplete",
                plan_digest=plan.digest,
                remaining=len(verification.remaining),
                unreached=len(unreached),
                not_reached=len(gaps),
            )
    if closes:
        shutil.rmtree(staging_dir(settings, request_id), ignore_errors=True)
    return html_path
