"""The deletion certificate of an erasure request (Arts 17, 19; Art. 5(2)): certificate.html and certificate.json.

Owns what the certificate says and how it looks. Takes ids, locations, counts, hashes, grounds and ledger
references from the erasure flow (never erased content); imports models and reports only, not proofs.

`CertificateInput` (built by services.certificates from the request's signed ledger entries; only the
locations not reached at all come from the case database, and the request's dates when no ledger entry of the
request records them, `dates_ledger_seq` None):

    request_id, generated_at, received_at, completed_at, due    the request and its dates (`dates_ledger_seq`:
                                                                 the ledger entry they come from)
    controller, register                                         who answers; the register gives the recipients
    approved_by, approved_at, approval_note                      the human approval of the plan
    approval_digest, approval_user, approval_channel, approval_ledger_seq  the plan it names, the signed-in
                                                                 user, UI or CLI, its signed ledger entry
    identity                                                     how the requester's identity was established
    erased_categories                                            category codes of the erased data (for Art. 19)
    erased:        ErasedEntry per action (location, path, action, items, sha256 before/after, version, ledger seq)
    kept:          KeptEntry per `exception` ledger entry (ground code, article, explanation, hold reference,
                   review date, ledger seq), including residual stores and vendor copies
    unreached:     UnreachedLocation per location that could not be erased (status, reason, since, attempts)
    not_reached:   NotReachedItem per item inside a reached location that could not be read or changed
                   (a link out of scope, a special file, a permission refusal, content not read), with its
                   reason: a gap, never an exception
    residual:      ResidualCopy per residual store, backup or vendor-side copy the person is told about
    retained_package: RetainedPackage: the sealed access package still kept and its deletion date (ledger seq)
    verification:  VerificationResult per location re-scanned after execution (remaining findings)
    ledger:        LedgerCoverage: first and last ledger entry of the request and the signed checkpoint over them
    notifications: RecipientNotice per recipient told about the erasure (Art. 19: date, channel, ledger seq)
    vendor_requests: VendorRequest per processor asked to erase its copy (date, channel, reference, ledger
                   seq), or not yet asked

`certificate.json` (`schema` = `dsr-orchestrator/deletion-certificate/1`, JSON Schema in
reports/certificate_schema.json) holds the same sections as lists of
objects with the dataclass field names (datetimes ISO 8601), plus `outcome` (`complete` when every location
was reached and verified clean or clean except recorded exceptions, `complete_with_gaps` when so but items
were not reached, else `partial`), `totals` (items erased, kept, not reached, locations unreached) and
`recipients` (the register's recipients of the erased categories, each with its notification entry or
`not_yet_sent`), `vendor_requests`, `not_searched` (the residual and vendor copies no re-scan searched) and
`retained_package`.
certificate.html shows the SHA-256 of certificate.json, so the two can be
matched. Both files are written atomically (temp file beside the target, then rename).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from connectors.agents import agent_title
from models.files import atomic_write
from models.identity import IdentityRecord
from models.settings import ControllerSettings, RegisterSettings
from reports.access_html import CSS, STATUS_TEXT, TYPE_TEXT, esc, fmt_time
from reports.access_input import resolve_category
from reports.packaging import check_package_id

SCHEMA_ID = "dsr-orchestrator/deletion-certificate/1"
SCHEMA_PATH = Path(__file__).with_name("certificate_schema.json")
CLEAN_STATUSES = frozenset({"clean", "exceptions_only", "gaps"})
ACTION_TEXT = {
    "delete_session": "Whole conversation deleted",
    "delete_file": "File deleted",
    "redact_in_place": "Your data removed from a shared record",
    "delete_version": "Stored object version deleted",
    "delete_object": "Stored object deleted",
}
VERIFY_TEXT = {
    "clean": "Re-scanned: nothing about you found",
    "exceptions_only": "Verified: only the kept records listed above remain",
    "gaps": "Verified where we could read; the items listed as not reached could not be checked",
    "findings_remain": "Data about you still found: erasure will be repeated",
    "not_verified": "Not verified yet",
}


@dataclass(frozen=True)
class ErasedEntry:
    """One completed erasure action.

    Attributes:
        location: endpoint or store name.
        location_type: `endpoint` or `store`.
        path: the file or object key as that system sees it.
        action: `delete_session`, `delete_file`, `redact_in_place`, `delete_version` or `delete_object`.
        items: records about the person removed by this action.
        sha256_before: hash of the file or object before the action.
        sha256_after: hash after (None when deleted).
        version_id: the S3 version deleted, if any.
        ledger_seq: the proof-ledger entry recording it.
        at: when it was done.
        agent: the AI agent whose store held the records (`codex`, `cowork`, ...), None for stores.
    """

    location: str
    location_type: str
    path: str
    action: str
    items: int
    sha256_before: str | None
    sha256_after: str | None
    version_id: str | None
    ledger_seq: int | None
    at: datetime | None
    agent: str | None = None


@dataclass(frozen=True)
class KeptEntry:
    """Records kept under an exception, with its ground (Art. 17(3)), per item, never for the whole request.

    Attributes:
        location: endpoint or store name.
        location_type: `endpoint` or `store`.
        path: the file or object key.
        items: records about the person kept.
        ground: short code (`legal_hold`, `legal_obligation`, `legal_claims`, `object_lock`, ...).
        article: the legal provision (`Art. 17(3)(e)`).
        explanation: plain-language reason, without personal data.
        reference: hold id or case reference, if any.
        review_date: when the exception is reviewed or ends.
        sha256: hash of the kept file, if recorded.
        ledger_seq: the proof-ledger entry recording the exception.
    """

    location: str
    location_type: str
    path: str
    items: int
    ground: str
    article: str
    explanation: str
    reference: str | None = None
    review_date: date | None = None
    sha256: str | None = None
    ledger_seq: int | None = None


@dataclass(frozen=True)
class UnreachedLocation:
    """A location where erasure could not be done (yet).

    Attributes:
        name: endpoint or store name.
        type: `endpoint` or `store`.
        status: the location status (`unreachable`, `busy`, `refused`, ...).
        reason: short reason without personal data.
        since: since when.
        attempts: tries so far.
        next_step: what happens next (e.g. retried at the next sweep).
    """

    name: str
    type: str
    status: str
    reason: str | None
    since: datetime | None
    attempts: int
    next_step: str | None = None


@dataclass(frozen=True)
class NotReachedItem:
    """An item the product could not read or change: a gap in the erasure, never an exception.

    Attributes:
        location: endpoint or store name.
        location_type: `endpoint` or `store`.
        path: the file, link or object key (bytes that are not UTF-8 as `\\xNN`, as in the ledger).
        reason: short code (`symlink_out_of_scope`, `special_file`, `permission_denied`, `not_read`, ...).
        explanation: plain-language reason, without personal data.
        ledger_seq: the proof-ledger entry recording it.
    """

    location: str
    location_type: str
    path: str
    reason: str
    explanation: str
    ledger_seq: int | None = None


@dataclass(frozen=True)
class ResidualCopy:
    """A copy that cannot be erased record by record, and what is done about it.

    Attributes:
        name: the store (VM disk image, backup set, vendor service).
        type: `residual`, `backup` or `vendor`.
        description: what it is.
        handling: what happens to it (put beyond use, overwritten on a date, replay list, vendor request).
    """

    name: str
    type: str
    description: str
    handling: str


@dataclass(frozen=True)
class VerificationResult:
    """The re-scan of one location after execution.

    Attributes:
        location: endpoint or store name.
        status: `clean`, `exceptions_only`, `gaps` (clean where read; items not reached there), `findings_remain`
            or `not_verified`.
        remaining: findings left outside the recorded exceptions.
        verified_at: when the re-scan ran.
        ledger_seq: the ledger entry recording the verification.
    """

    location: str
    status: str
    remaining: int
    verified_at: datetime | None
    ledger_seq: int | None = None


@dataclass(frozen=True)
class LedgerCoverage:
    """The proof-ledger range of the request and the signed checkpoint sealing it (from `proofs`).

    Attributes:
        seq_first: first entry of the request.
        seq_last: last entry of the request.
        checkpoint_seq_from: first entry the checkpoint covers (None when not sealed yet).
        checkpoint_seq_to: last entry it covers.
        head_hash: hash of entry `checkpoint_seq_to`.
        checkpoint_at: when it was signed.
        key_id: the signing key's id.
        signature: Ed25519 signature (hex).
        head_seq: the last seq of the whole ledger when the certificate was built (its ledger head).
        head_entry_hash: that entry's hash; with `head_seq`, what `dsr ledger verify --certificate` looks up.
    """

    seq_first: int
    seq_last: int
    checkpoint_seq_from: int | None = None
    checkpoint_seq_to: int | None = None
    head_hash: str | None = None
    checkpoint_at: datetime | None = None
    key_id: str | None = None
    signature: str | None = None
    head_seq: int | None = None
    head_entry_hash: str | None = None

    @property
    def is_sealed(self) -> bool:
        """Whether a signed checkpoint covers the request's last entry (checkpoints are chained, so the earlier
        entries are sealed by the checkpoints before it)."""
        return (
            self.signature is not None
            and self.checkpoint_seq_to is not None
            and self.checkpoint_seq_to >= self.seq_last
        )


@dataclass(frozen=True)
class RecipientNotice:
    """One Art. 19 notification of a recipient.

    Attributes:
        recipient: the recipient's name as in the register.
        notified_at: when it was told.
        channel: how (e-mail, portal, letter, API).
        reply: its answer, if any.
        ledger_seq: the `notify` ledger entry recording it.
    """

    recipient: str
    notified_at: datetime | None
    channel: str | None
    reply: str | None = None
    ledger_seq: int | None = None


@dataclass(frozen=True)
class VendorRequest:
    """A processor asked (or not yet asked) to erase its copy of the person's data.

    Attributes:
        processor: the processor's name as in the register (None: the register names none).
        status: `sent` or `not_yet_sent`.
        sent_at: when it was asked.
        channel: how (e-mail, portal, API).
        reference: the processor's ticket or case number.
        ledger_seq: the `vendor_request` ledger entry recording it.
    """

    processor: str | None
    status: str
    sent_at: datetime | None = None
    channel: str | None = None
    reference: str | None = None
    ledger_seq: int | None = None


@dataclass(frozen=True)
class RetainedPackage:
    """The person's sealed access package still kept, and when it is deleted (its `package_sealed` entry).

    Attributes:
        name: the package's file name.
        sha256: its manifest hash, if recorded.
        delete_on: when housekeeping deletes it (issue date plus the delivery window).
        request_id: the access request it was issued for.
        ledger_seq: the `package_sealed` ledger entry (no `package_deleted` entry follows it).
    """

    name: str
    sha256: str | None
    delete_on: datetime | None
    request_id: str | None = None
    ledger_seq: int | None = None


@dataclass(frozen=True)
class CertificateInput:
    """Everything a deletion certificate states; see the module docstring."""

    request_id: str
    generated_at: datetime
    received_at: datetime
    due: date
    controller: ControllerSettings
    register: RegisterSettings
    erased_categories: tuple[str, ...]
    erased: tuple[ErasedEntry, ...]
    kept: tuple[KeptEntry, ...]
    unreached: tuple[UnreachedLocation, ...]
    residual: tuple[ResidualCopy, ...]
    verification: tuple[VerificationResult, ...]
    ledger: LedgerCoverage | None
    notifications: tuple[RecipientNotice, ...] = ()
    completed_at: datetime | None = None
    approved_by: str | None = None
    approved_at: datetime | None = None
    approval_note: str | None = None
    not_reached: tuple[NotReachedItem, ...] = ()
    approval_digest: str | None = None
    approval_user: str | None = None
    approval_channel: str | None = None
    approval_ledger_seq: int | None = None
    identity: IdentityRecord | None = None
    retained_package: RetainedPackage | None = None
    vendor_requests: tuple[VendorRequest, ...] = ()
    dates_ledger_seq: int | None = None


def _plain(value: object) -> object:
    """Dataclass values as JSON-ready values (datetimes and dates ISO 8601)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def recipients(inp: CertificateInput) -> list[dict[str, object]]:
    """The register's recipients of the erased categories, each with its notification record (Art. 19).

    A notice for a recipient the register does not list is kept too (a processor added by hand).
    """
    by_name: dict[str, list[str]] = {}
    for code in dict.fromkeys(inp.erased_categories):
        answer = resolve_category(inp.register, code, inp.controller)
        for name in answer.entry.recipients or []:
            by_name.setdefault(name, []).append(answer.entry.title or code)
    notices = {n.recipient: n for n in inp.notifications}
    for name in notices:
        by_name.setdefault(name, [])
    out: list[dict[str, object]] = []
    for name, titles in by_name.items():
        notice = notices.get(name)
        out.append(
            {
                "recipient": name,
                "categories": titles,
                "status": "notified" if notice and notice.notified_at else "not_yet_sent",
                "notified_at": _plain(notice.notified_at) if notice else None,
                "channel": notice.channel if notice else None,
                "reply": notice.reply if notice else None,
                "ledger_seq": notice.ledger_seq if notice else None,
            }
        )
    return out


def not_searched(inp: CertificateInput) -> list[str]:
    """The copies no re-scan searched after the erasure (residual stores, vendor copies)."""
    return list(dict.fromkeys(r.name for r in inp.residual))


def outcome(inp: CertificateInput) -> str:
    """`complete` when every location was reached and verified clean (or clean but for exceptions);
    `complete_with_gaps` when so but items inside them were not reached; else `partial`."""
    verified = bool(inp.verification) and all(v.status in CLEAN_STATUSES for v in inp.verification)
    if not verified or inp.unreached:
        return "partial"
    return "complete_with_gaps" if inp.not_reached else "complete"


def _ledger_document(ledger: LedgerCoverage | None) -> dict[str, object] | None:
    if ledger is None:
        return None
    document = {key: _plain(value) for key, value in asdict(ledger).items()}
    document["sealed"] = ledger.is_sealed
    return document


def certificate_document(inp: CertificateInput) -> dict[str, object]:
    """The certificate.json document."""
    return {
        "schema": SCHEMA_ID,
        "request_id": inp.request_id,
        "generated_at": _plain(inp.generated_at),
        "received_at": _plain(inp.received_at),
        "due": _plain(inp.due),
        "dates_ledger_seq": inp.dates_ledger_seq,
        "completed_at": _plain(inp.completed_at),
        "controller": {"name": inp.controller.name, "contact": inp.controller.contact},
        "approval": {
            "approved_by": inp.approved_by,
            "approved_at": _plain(inp.approved_at),
            "note": inp.approval_note,
            "plan_digest": inp.approval_digest,
            "authenticated_user": inp.approval_user,
            "channel": inp.approval_channel,
            "ledger_seq": inp.approval_ledger_seq,
        },
        "identity": inp.identity.as_json() if inp.identity else None,
        "outcome": outcome(inp),
        "totals": {
            "items_erased": sum(e.items for e in inp.erased),
            "actions": len(inp.erased),
            "items_kept": sum(k.items for k in inp.kept),
            "locations_unreached": len(inp.unreached),
            "items_not_reached": len(inp.not_reached),
            "residual_copies": len(inp.residual),
        },
        "erased_categories": list(inp.erased_categories),
        "erased": [_plain(asdict(e)) for e in inp.erased],
        "kept": [_plain(asdict(k)) for k in inp.kept],
        "unreached": [_plain(asdict(u)) for u in inp.unreached],
        "not_reached": [_plain(asdict(n)) for n in inp.not_reached],
        "residual": [_plain(asdict(r)) for r in inp.residual],
        "not_searched": not_searched(inp),
        "retained_package": _plain(asdict(inp.retained_package)) if inp.retained_package else None,
        "verification": [_plain(asdict(v)) for v in inp.verification],
        "ledger": _ledger_document(inp.ledger),
        "recipients": recipients(inp),
        "vendor_requests": [_plain(asdict(v)) for v in inp.vendor_requests],
    }


def _table(head: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{esc(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _short(digest: str | None) -> str:
    return f'<code title="{esc(digest)}">{esc(digest[:12])}…</code>' if digest else "—"


def _after(entry: ErasedEntry) -> str:
    """The fingerprint after an action, as its ledger entry states it."""
    if entry.sha256_after:
        return _short(entry.sha256_after)
    if entry.action == "redact_in_place":
        return "unchanged (nothing left to remove)" if entry.sha256_before else "not recorded"
    return "file deleted" if entry.action in ("delete_file", "delete_session") else "deleted"


def _retained_html(inp: CertificateInput, tz: ZoneInfo) -> str:
    """The sealed access package still kept for the person, with its deletion date."""
    package = inp.retained_package
    if package is None:
        return ""
    when = fmt_time(package.delete_on, tz) if package.delete_on else "not scheduled"
    seq = f" (proof entry {package.ledger_seq})" if package.ledger_seq is not None else ""
    return (
        f"<p>The sealed copy of your data we prepared for you (<code>{esc(package.name)}</code>) is kept until "
        f"it is deleted on {esc(when)}{esc(seq)}.</p>"
    )


def _vendor_requests_html(inp: CertificateInput, tz: ZoneInfo) -> str:
    """Each processor asked to erase its copy, with the date and proof entry, or "not yet sent"."""
    if not inp.vendor_requests:
        return ""
    rows = [
        [
            esc(v.processor or "the AI vendor (not named in our register)"),
            f'<span class="{"status-ok" if v.status == "sent" else "status-gap"}">'
            f"{'Asked to erase its copy' if v.status == 'sent' else 'Not yet sent'}</span>",
            esc(fmt_time(v.sent_at, tz) if v.sent_at else "—"),
            esc(v.channel or "—") + (f"<br>reference {esc(v.reference)}" if v.reference else ""),
            esc(v.ledger_seq if v.ledger_seq is not None else "—"),
        ]
        for v in inp.vendor_requests
    ]
    return "<p>Requests to our processors to erase their copies:</p>" + _table(
        ["Processor", "Status", "When", "How", "Proof entry"], rows
    )


def _not_searched_html(inp: CertificateInput) -> str:
    """The copies the checks after erasure did not search: never stated as verified."""
    names = not_searched(inp)
    if not names:
        return ""
    return (
        f"<p>Not searched after erasure: {esc('; '.join(names))}. The results above cover only what was re-scanned.</p>"
    )


def render_certificate_html(inp: CertificateInput, json_sha256: str) -> str:
    """The certificate page: self-contained, no script, every value escaped.

    Args:
        inp: the certificate input.
        json_sha256: sha256 of certificate.json, printed so the two files can be matched.

    Returns:
        The HTML document.
    """
    tz = inp.controller.tz
    totals = certificate_document(inp)["totals"]
    assert isinstance(totals, dict)  # noqa: S101 - built just above
    box = _summary_box(inp, totals)
    sections = [
        ("1. What we erased", _erased_html(inp)),
        ("2. What we kept, and why", _kept_html(inp)),
        ("3. Places and items we could not reach", _unreached_html(inp, tz)),
        ("4. Other copies you should know about", _copies_html(inp, tz)),
        ("5. Checks after erasure", _checks_html(inp, tz)),
        ("6. Who we told (Article 19)", _told_html(inp, tz)),
        ("7. Proof", _proof_html(inp, tz)),
    ]
    body = "".join(f"<section><h2>{esc(title)}</h2>{html}</section>" for title, html in sections)
    meta = _meta_html(inp, tz)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"<title>Deletion certificate: request {esc(inp.request_id)}</title><style>{CSS}"
        "code.sig{word-break:break-all}section{margin-bottom:1.5rem}th{white-space:nowrap}"
        "td code:not(.sig){white-space:nowrap}td{overflow-wrap:anywhere}</style></head><body>"
        f'<header class="cover"><div class="inner"><div class="controller">{esc(inp.controller.name)}</div>'
        f'<h1>Certificate of erasure</h1><dl class="meta">{meta}</dl></div></header><main>'
        '<p class="lead">You asked us to erase personal data about you (Article 17 of the General Data Protection '
        "Regulation). This certificate records what we erased, what we kept and why, and how it can be checked.</p>"
        f"{box}{body}"
        f'<footer class="end">Questions: {esc(inp.controller.contact)}. Machine-readable twin: certificate.json, '
        f"SHA-256 <code>{esc(json_sha256)}</code>.</footer></main></body></html>\n"
    )


def _summary_box(inp: CertificateInput, totals: dict[str, object]) -> str:
    """The first box: erased, finished with gaps, or not yet complete."""
    state = outcome(inp)
    return (
        '<div class="box yes"><strong class="big">Your data has been erased.</strong>'
        f"We erased {totals['items_erased']} record{'s' if totals['items_erased'] != 1 else ''} about you in "
        f"{totals['actions']} action{'s' if totals['actions'] != 1 else ''} and checked every place again afterwards."
        "</div>"
        if state == "complete"
        else '<div class="box warn"><strong class="big">Erasure is finished, with gaps.</strong>'
        f"We erased {totals['items_erased']} record{'s' if totals['items_erased'] != 1 else ''} about you. Some "
        "items could not be read or changed; they are listed in section 3 with the reason, and they are not "
        "covered by any legal exception.</div>"
        if state == "complete_with_gaps"
        else '<div class="box warn"><strong class="big">Erasure is not yet complete everywhere.</strong>'
        f"We erased {totals['items_erased']} record{'s' if totals['items_erased'] != 1 else ''} about you. Some "
        "places could not be reached or still need checking; they are listed below and we will finish the job.</div>"
    )


def _erased_html(inp: CertificateInput) -> str:
    """Section 1: every erased item with its fingerprints and proof entry."""
    return (
        _table(
            ["System", "Where", "What we did", "Records", "Fingerprint before", "Fingerprint after", "Proof entry"],
            [
                [
                    esc(e.location),
                    esc(e.path)
                    + (f"<br>version {esc(e.version_id)}" if e.version_id else "")
                    + (f"<br>agent: {esc(agent_title(e.agent))}" if e.agent else ""),
                    esc(ACTION_TEXT.get(e.action, e.action)),
                    str(e.items),
                    _short(e.sha256_before),
                    _after(e),
                    esc(e.ledger_seq) if e.ledger_seq is not None else "—",
                ]
                for e in inp.erased
            ],
        )
        if inp.erased
        else "<p>Nothing needed erasing: no records about you were found.</p>"
    )


def _kept_html(inp: CertificateInput) -> str:
    """Section 2: every kept item with its legal ground."""
    return (
        (
            "<p>We may keep specific records where the law allows it (Article 17(3)). Each exception covers only "
            "the records listed here.</p>"
            + _table(
                ["System", "Where", "Records", "Ground", "Explanation", "Reference", "Review date"],
                [
                    [
                        esc(k.location),
                        esc(k.path),
                        str(k.items),
                        f"{esc(k.article)}<br><code>{esc(k.ground)}</code>",
                        esc(k.explanation),
                        esc(k.reference or "—"),
                        esc(k.review_date.isoformat() if k.review_date else "—"),
                    ]
                    for k in inp.kept
                ],
            )
        )
        if inp.kept
        else "<p>We kept nothing: the proof log records no exception for this request.</p>"
    )


def _unreached_html(inp: CertificateInput, tz: ZoneInfo) -> str:
    """Section 3: places not reached and items not read or changed (gaps, not exceptions)."""
    return (
        _table(
            ["System", "Type", "Status", "Details", "Next step"],
            [
                [
                    esc(u.name),
                    esc(TYPE_TEXT.get(u.type, u.type)),
                    esc(STATUS_TEXT.get(u.status, u.status)),
                    esc(u.reason or "")
                    + (f"; since {esc(fmt_time(u.since, tz))}" if u.since else "")
                    + (f"; tried {u.attempts} times" if u.attempts else ""),
                    esc(u.next_step or "—"),
                ]
                for u in inp.unreached
            ],
        )
        if inp.unreached
        else "<p>None: every laptop and store in scope was reached.</p>"
    ) + (
        "<p>Items we could not read or change inside the places we reached. They are gaps, not "
        "exceptions: we did not erase them and no legal ground keeps them.</p>"
        + _table(
            ["System", "Where", "Why not reached", "Proof entry"],
            [
                [
                    esc(n.location),
                    esc(n.path),
                    f"{esc(n.explanation)}<br><code>{esc(n.reason)}</code>",
                    esc(n.ledger_seq) if n.ledger_seq is not None else "—",
                ]
                for n in inp.not_reached
            ],
        )
        if inp.not_reached
        else ""
    )


def _copies_html(inp: CertificateInput, tz: ZoneInfo) -> str:
    """Section 4: residual stores, vendor requests and the retained access package."""
    return (
        (
            _table(
                ["Where", "Type", "What it is", "What happens to it"],
                [[esc(r.name), esc(r.type), esc(r.description), esc(r.handling)] for r in inp.residual],
            )
            if inp.residual
            else ""
            if inp.retained_package
            else "<p>None known.</p>"
        )
        + _vendor_requests_html(inp, tz)
        + _retained_html(inp, tz)
    )


def _checks_html(inp: CertificateInput, tz: ZoneInfo) -> str:
    """Section 5: the re-scans after erasure, and what no re-scan searched."""
    return (
        _table(
            ["System", "Result", "Records still found", "Checked at"],
            [
                [
                    esc(v.location),
                    f'<span class="{"status-ok" if v.status in CLEAN_STATUSES else "status-gap"}">'
                    f"{esc(VERIFY_TEXT.get(v.status, v.status))}</span>",
                    str(v.remaining),
                    esc(fmt_time(v.verified_at, tz)),
                ]
                for v in inp.verification
            ],
        )
        if inp.verification
        else "<p>No checks have run yet.</p>"
    ) + _not_searched_html(inp)


def _told_html(inp: CertificateInput, tz: ZoneInfo) -> str:
    """Section 6: Art. 19 recipients, notified or not yet."""
    notices = {n.recipient: n for n in inp.notifications}
    rec_rows = [
        [
            esc(r["recipient"]),
            esc(", ".join(r["categories"])) if isinstance(r["categories"], list) else "",
            f'<span class="{"status-ok" if r["status"] == "notified" else "status-gap"}">'
            f"{'Notified' if r['status'] == 'notified' else 'Not yet sent'}</span>",
            esc(fmt_time(notices[str(r["recipient"])].notified_at, tz) if r["notified_at"] else "—"),
            esc(r["channel"] or "—"),
            esc(
                r["ledger_seq"]
                if r["ledger_seq"] is not None
                else "case records only (recorded before the proof log kept notices)"
                if r["status"] == "notified"
                else "—"
            ),
        ]
        for r in recipients(inp)
    ]
    return (
        "<p>We tell everyone we disclosed your data to that it has been erased, and you may ask us who they are."
        "</p>" + _table(["Recipient", "Kinds of data", "Status", "When", "How", "Proof entry"], rec_rows)
        if rec_rows
        else "<p>Our register names no recipient of these kinds of data, and no notification is recorded.</p>"
    )


def _proof_html(inp: CertificateInput, tz: ZoneInfo) -> str:
    """Section 7: the ledger coverage, the seal and the head the certificate was built from."""
    ledger = inp.ledger
    if ledger:
        rows = [("Proof log entries", f"{ledger.seq_first} to {ledger.seq_last}")]
        if ledger.is_sealed:
            rows += [
                ("Sealed by checkpoint", f"entries {ledger.checkpoint_seq_from} to {ledger.checkpoint_seq_to}"),
                ("Signed", fmt_time(ledger.checkpoint_at, tz)),
                ("Signing key", ledger.key_id or ""),
                ("Head hash", ledger.head_hash or ""),
                ("Signature (Ed25519)", ledger.signature or ""),
            ]
        else:
            rows.append(("Seal", "not yet sealed by a signed checkpoint (the next seal will cover it)"))
        if ledger.head_seq is not None:
            rows.append(("Built from ledger head", f"entry {ledger.head_seq}, hash {ledger.head_entry_hash or ''}"))
        fields = "".join(f'<dt>{esc(k)}</dt><dd><code class="sig">{esc(v)}</code></dd>' for k, v in rows)
        proof = (
            "<p>Every action above is recorded in our tamper-evident proof log. The log keeps what was done and "
            "fingerprints of the records, never their content. An auditor can check it with "
            f'<code>dsr ledger verify</code> and our public key.</p><dl class="fields">{fields}</dl>'
        )
    else:
        proof = "<p>No proof-log entries are recorded for this request yet.</p>"
    return proof


def _meta_html(inp: CertificateInput, tz: ZoneInfo) -> str:
    """The cover's fields: request, dates (with their proof entry), approval and identity."""
    approval = (
        f"<dt>Plan approved by</dt><dd>{esc(inp.approved_by)}"
        f"{esc(f' (signed in as {inp.approval_user})' if inp.approval_user else '')}, "
        f"{esc(fmt_time(inp.approved_at, tz))}</dd>"
        if inp.approved_by
        else ""
    )
    if inp.approval_digest:
        approval += f"<dt>Approved plan</dt><dd>{_short(inp.approval_digest)}</dd>"
    approval += f"<dt>Identity</dt><dd>{esc(inp.identity.sentence() if inp.identity else 'Not recorded.')}</dd>"
    dates_source = (
        f" (proof entry {inp.dates_ledger_seq})"
        if inp.dates_ledger_seq is not None
        else " (from our case records: no proof entry records the dates)"
    )
    meta = (
        f"<dt>Request</dt><dd>{esc(inp.request_id)}</dd>"
        f"<dt>Received</dt><dd>{esc(fmt_time(inp.received_at, tz))}{esc(dates_source)}</dd>"
        f"<dt>Due by</dt><dd>{esc(f'{inp.due.day} {inp.due:%b %Y}')}</dd>"
        f"<dt>Completed</dt><dd>{esc(fmt_time(inp.completed_at, tz) if inp.completed_at else 'not yet')}</dd>"
        f"{approval}<dt>Issued</dt><dd>{esc(fmt_time(inp.generated_at, tz))}</dd>"
    )
    return meta


def build_certificate(
    inp: CertificateInput, out_dir: Path, *, sign: Callable[[bytes], bytes] | None = None
) -> tuple[Path, Path]:
    """Write `<request_id>-certificate.html` and `<request_id>-certificate.json` into `out_dir`, atomically.

    The files are mode 0600; a directory this creates is mode 0700. With `sign`, the JSON's detached signature
    (`sign(json bytes)`) is written beside it as `<request_id>-certificate.json.sig`.

    Args:
        inp: the certificate input (ids, counts, hashes, grounds, ledger references; no erased content).
        out_dir: where the certificates go.
        sign: makes the detached signature file's bytes from the certificate JSON's exact bytes.

    Returns:
        (html path, json path).

    Raises:
        InputError: the request id cannot name a file.
        OSError: the disk refused; no partial file is left.
    """
    check_package_id(inp.request_id)
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    document = json.dumps(certificate_document(inp), ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
    html = render_certificate_html(inp, hashlib.sha256(document).hexdigest()).encode("utf-8")
    json_path = out_dir / f"{inp.request_id}-certificate.json"
    html_path = out_dir / f"{inp.request_id}-certificate.html"
    atomic_write(json_path, document)
    if sign is not None:
        atomic_write(json_path.with_name(json_path.name + ".sig"), sign(document))
    atomic_write(html_path, html)
    return html_path, json_path
