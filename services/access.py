"""The access request as plain functions: start, scan one location, progress, assemble the package.

Flows and the CLI call these; tests call them without Prefect. They read identifiers from the case
database themselves: nothing personal crosses a function boundary that Prefect could record. Copies of
data are written only to the request's private staging directory and then into the access package.
"""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import insert
from sqlmodel import Session, col, delete, func, select

from connectors.base import VersionedStore
from connectors.layouts import CoverageGap
from connectors.registry import open_location
from detection.classify import Classifier
from detection.findings import Finding, ThirdPartyEntity, ThirdPartyFinding
from detection.matcher import Matcher
from detection.others import SOURCES, Learned, OtherHit, OtherPeople
from detection.redact import PlaceholderBook, redact_record
from detection.scan import ScanResult, scan_endpoint
from detection.scan_store import scan_store
from detection.text_key import text_key
from erasure.proof_path import proof_path
from models import cases
from models.crypto import RecordSpool
from models.db import session_scope
from models.errors import ConnectorError, DsrError, InputError
from models.identity import require_identity
from models.keys import master_key
from models.lifecycle import effective_due
from models.run_lock import check_open
from models.settings import Settings
from models.tables import Finding as FindingRow
from models.tables import LocationScan, Request, utcnow
from models.types import LocationStatus, RequestKind, RequestStatus
from reports.access_input import PackageInput, PackageItem, SearchedLocation, missing_register_keys
from reports.access_package import PackageResult, PageJob, build_access_package
from reports.portability import PortabilityResult, build_portability_export
from services import forked
from services.directory import load_directory
from services.evidence import publish_evidence
from services.fanout import DISCOVERY, ScanContext, local_scan_slot
from services.identity import identity_record
from services.release_check import CheckCache, ReleaseBlockedError, ReleaseItem, check_package, text_files
from services.request_ledger import package_delete_on, record_package_sealed, record_release_check
from services.staging import (
    SpooledItems,
    SpooledText,
    StagingWriter,
    TextSpool,
    draft_path,
    iter_staged,
    iter_staged_file,
    seal_draft,
    seal_package,
    staged_file,
    staging_dir,
    staging_writer,
)
from services.subject import build_matcher, request_key, subject_identifiers

#: Finding rows written per INSERT statement (executemany) when a location's findings are recorded.
FINDING_ROWS_PER_INSERT = 1000
ACCESS_KINDS = (RequestKind.ACCESS, RequestKind.PORTABILITY)
#: Plain words for a location status inside a sentence (the report never shows a status code).
STATUS_WORDS = {
    "unreachable": "could not be reached",
    "busy": "was in use",
    "refused": "refused access",
    "failed": "could not be searched",
    "auth_failed": "refused our credentials",
    "host_key_unknown": "could not be verified",
    "host_key_mismatch": "could not be verified",
    "pending": "not yet searched",
}
VENDOR_NOTE = (
    "Copies held by the AI vendor (cloud sessions, enterprise compliance captures) are not on our systems: "
    "they are listed here. This package does not record whether the vendor has been asked for them."
)


@dataclass(frozen=True, slots=True)
class ScanOutcome:
    """What scanning one location for one request gave: ids, counts and a status (no personal data)."""

    location: str
    status: str
    reason: str | None = None
    artifacts: int = 0
    bytes_scanned: int = 0
    findings: int = 0
    skipped: int = 0

    @property
    def transient(self) -> bool:
        """Whether another attempt could succeed (asleep or busy laptop)."""
        return self.status in {LocationStatus.UNREACHABLE, LocationStatus.BUSY}


@dataclass(frozen=True, slots=True)
class AccessProgress:
    """Where an access request stands (for artifacts and the CLI)."""

    request_id: str
    status: str
    total: int
    done: int
    pending: tuple[str, ...]
    rows: tuple[dict[str, Any], ...]
    due: date
    days_left: int
    report: str | None = None

    @property
    def complete(self) -> bool:
        """Every location is accounted for."""
        return not self.pending


def location_names(settings: Settings) -> list[str]:
    """Every configured endpoint and store, in configuration order."""
    return [e.name for e in settings.endpoints] + [s.name for s in settings.stores]


def begin_access(settings: Settings, request_id: str) -> list[str]:
    """Move the request to in_progress and make sure every location has a status row; returns those to scan.

    Raises:
        RequestClosedError: the request is closed (it is never run again).
        InputError: the request is not an access or portability request.
    """
    with session_scope(settings.database.url) as session:
        cases.sync_locations(session, settings)
        request = cases.get_request(session, request_id)
        if RequestKind(request.kind) not in ACCESS_KINDS:
            raise InputError(f"request {request_id} is a {request.kind} request, not access or portability")
        check_open(request)
        require_identity(request, "run")
        if RequestStatus(request.status) is not RequestStatus.IN_PROGRESS:
            cases.transition(session, request, RequestStatus.IN_PROGRESS, action="access.started")
        existing = {s.location: s for s in cases.location_scans(session, request_id) if s.phase == DISCOVERY}
        todo: list[str] = []
        for name in location_names(settings):
            scan = existing.get(name)
            if scan is None:
                scan = LocationScan(request_id=request_id, location=name, phase=DISCOVERY, status="pending")
                session.add(scan)
            if not LocationStatus(scan.status).is_final:
                todo.append(name)
        return todo


def _store_findings(session: Session, request_id: str, location: str, items: Iterable[Finding]) -> None:
    """Replace the location's finding rows: one bulk insert per chunk, not one ORM object per finding."""
    session.exec(
        delete(FindingRow).where(col(FindingRow.request_id) == request_id, col(FindingRow.location) == location)
    )
    rows: list[dict[str, Any]] = []
    for item in items:
        content = item.content or ""
        stamp = item.timestamp
        rows.append(
            {
                "request_id": request_id,
                "location": location,
                "path": proof_path(item.path) or "",  # bytes that are not UTF-8 as `\xNN` (as in the ledger)
                "line": item.line,
                "version_id": item.location.version_id,
                "kind": item.kind,
                "session_id": proof_path(item.session_id),
                "pointers": json.dumps(list(item.pointers)),
                "content_sha256": hashlib.sha256(content.encode("utf-8", "surrogatepass")).hexdigest(),
                "categories": json.dumps(list(item.categories)),
                "record_at": datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None,
                "reason": item.reason[:16],
            }
        )
        if len(rows) >= FINDING_ROWS_PER_INSERT:
            session.exec(insert(FindingRow), params=rows)
            rows = []
    if rows:
        session.exec(insert(FindingRow), params=rows)


def _scan(settings: Settings, location: str, matcher: Matcher, staged: StagingWriter) -> ScanResult:
    """Scan one location, staging each finding as it is found (the result holds none of them); a `file://` laptop
    waits for one of the process's slots for them (`local_scan_slot`)."""
    connector = open_location(location, settings)
    with local_scan_slot(settings, location), connector:
        if isinstance(connector, VersionedStore):
            return scan_store(connector, matcher, sink=staged.add)
        owners = [e.owner for e in settings.endpoints if e.name == location and e.owner]
        return scan_endpoint(connector, location, matcher, owner_ids=owners, sink=staged.add)


def gaps_reason(gaps: Sequence[CoverageGap], encrypted: Sequence[str] = (), residual: Sequence[str] = ()) -> str | None:
    """The status reason of a location: agent stores not recognised (relative to their home, no user names),
    encrypted conversation stores, and the app's opaque stores that are listed but never opened (virtual
    machine disks, browser storage); None without any."""
    parts = []
    if gaps:
        names = sorted({proof_path(gap.relative) or "" for gap in gaps})
        shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        parts.append(f"{len(gaps)} agent store(s) not recognised, so not read: {shown}")
    if encrypted:
        parts.append(
            f"{len(encrypted)} encrypted conversation file(s) (Windsurf, ChatGPT desktop) cannot be searched; "
            "the vendor is asked for its copy"
        )
    if residual:
        shown = ", ".join(residual[:10]) + (f" and {len(residual) - 10} more" if len(residual) > 10 else "")
        parts.append(
            f"{len(residual)} app storage folder(s) cannot be searched record by record and were not opened "
            f"(virtual machine disk images, browser storage, caches): {shown}"
        )
    return "; ".join(parts) or None


class ScanWithdrawnError(DsrError):
    """A scan that may no longer record what it read (its run ended meanwhile): nothing was published."""


class StagingChangedError(DsrError):
    """The staged copies changed while the package was assembled (its passes read different records): nothing
    was built, as a package of mixed reads could number one person's markers twice."""

    retryable = True

    def __init__(self, message: str = "", **fields: Any) -> None:
        super().__init__(
            message
            or "the staged copies changed while the package was being assembled (a scan of this request may "
            "have written to them); nothing was issued: run the request again",
            **fields,
        )


def scan_location(
    settings: Settings,
    request_id: str,
    location: str,
    *,
    context: ScanContext | None = None,
    withdrawn: Callable[[], str | None] | None = None,
) -> ScanOutcome:
    """Scan one location for the request's subject and record the outcome; never raises connector errors.

    Findings go to the case database as locations, pointers and hashes; the copies go to the request's
    private staging directory. A failed location keeps its previous findings and gets its status and reason.
    `context` (`services.fanout`) shares the matcher and key of a fan-out; without it they are built here.
    `withdrawn` is asked once the location is read and before anything is published: a reason means the run
    this scan belongs to has ended, so the copy is discarded, nothing is recorded and `ScanWithdrawnError`
    is raised (a scan child on another worker, cancelled while it read).
    """
    now = utcnow()
    key = context.key if context is not None else request_key(settings, request_id)
    copy = staged_file(staging_dir(settings, request_id), location)
    found = 0
    try:
        matcher = context.matcher if context is not None else build_matcher(settings, request_id)
        with staging_writer(copy, key) as staged:  # replaces the location's copies only when read
            result = _scan(settings, location, matcher, staged)
            found = staged.count
            reason = withdrawn() if withdrawn is not None else None
            if reason is not None:
                raise ScanWithdrawnError(reason)
    except ScanWithdrawnError:
        raise
    except ConnectorError as exc:
        outcome = ScanOutcome(location, exc.status.value, proof_path(f"{type(exc).__name__}: {exc}"))
    except DsrError as exc:
        outcome = ScanOutcome(location, LocationStatus.FAILED.value, proof_path(f"{type(exc).__name__}: {exc}"))
    except Exception as exc:  # noqa: BLE001 - a location's failure is recorded whatever it is (an honest status)
        outcome = ScanOutcome(location, LocationStatus.FAILED.value, f"unexpected {type(exc).__name__}")
    else:
        outcome = ScanOutcome(
            location,
            (
                LocationStatus.SCANNED_WITH_GAPS if result.gaps or result.encrypted_stores else LocationStatus.SCANNED
            ).value,
            gaps_reason(result.gaps, result.encrypted_stores, result.residual_stores),
            result.files_scanned,
            result.bytes_scanned,
            found,
            len(result.skipped),
        )
    with session_scope(settings.database.url) as session:
        scan = session.exec(
            select(LocationScan).where(
                LocationScan.request_id == request_id,
                LocationScan.location == location,
                LocationScan.phase == DISCOVERY,
            )
        ).first() or LocationScan(request_id=request_id, location=location, phase=DISCOVERY, status="pending")
        scan.attempts += 1
        scan.first_attempt_at = scan.first_attempt_at or now
        scan.last_attempt_at = now
        if LocationStatus(outcome.status).was_read:
            scan.status, scan.reason, scan.completed_at = outcome.status, outcome.reason, utcnow()
            scan.artifacts, scan.bytes_scanned, scan.findings = (
                outcome.artifacts,
                outcome.bytes_scanned,
                outcome.findings,
            )
            _store_findings(session, request_id, location, iter_staged_file(copy, key))
        elif not LocationStatus(scan.status).was_read:
            scan.status, scan.reason = outcome.status, outcome.reason
        session.add(scan)
        cases.record_event(
            session,
            "access.location_scanned",
            request_id=request_id,
            outcome=outcome.status,
            location=location,
            findings=outcome.findings,
        )
    return outcome


def access_progress(settings: Settings, request_id: str, *, today: date | None = None) -> AccessProgress:
    """Counts and statuses per location (no personal data)."""
    with session_scope(settings.database.url) as session:
        request = cases.get_request(session, request_id)
        scans = [s for s in cases.location_scans(session, request_id) if s.phase == DISCOVERY]
        today = today or utcnow().astimezone(settings.controller.tz).date()
        rows = tuple(
            {
                "location": s.location,
                "status": s.status,
                "reason": s.reason or "",
                "attempts": s.attempts,
                "artifacts": s.artifacts,
                "findings": s.findings,
            }
            for s in scans
        )
        pending = tuple(s.location for s in scans if not LocationStatus(s.status).is_final)
        due = effective_due(request)
        return AccessProgress(
            request_id=request_id,
            status=request.status,
            total=len(scans),
            done=len(scans) - len(pending),
            pending=pending,
            rows=rows,
            due=due,
            days_left=(due - today).days,
            report=request.report_path,
        )


def must_issue_with_gaps(settings: Settings, progress: AccessProgress) -> bool:
    """Whether the deadline is close enough that the package goes out with its gaps documented."""
    return progress.days_left <= settings.access.issue_with_gaps_days_before_deadline


#: The sources redaction uses (every one). A test narrows it to show the release check catches a miss.
REDACTION_SOURCES: tuple[str, ...] = SOURCES


class RegisterIncompleteError(InputError):
    """The register does not answer every Art. 15 point for the categories found; the package is not issued."""

    def __init__(self, request_id: str, missing: list[str]) -> None:
        super().__init__(
            f"request {request_id}: the processing register does not answer every Art. 15 point for the data "
            f"found, so the package was not issued; set these keys in the configuration: {', '.join(missing)} "
            "(see dsr.example.toml), or issue it anyway with `dsr request run ID --allow-incomplete-register` "
            "([access].allow_incomplete_register), and the report says those answers are being completed"
        )
        self.missing = missing


def ner_model(settings: Settings) -> str | None:
    """The spaCy model for names when it is installed, else None (pattern recognizers only; never downloaded)."""
    import importlib.util  # noqa: PLC0415

    name = settings.access.ner_model
    return name if name and importlib.util.find_spec(name) is not None else None


def published_texts(settings: Settings) -> list[str]:
    """What the controller publishes in every report: its name and contacts, the authority's, the register's
    recipients and processors. Never taken for a person's data by the release check."""
    controller = settings.controller
    register = settings.processing_register
    texts = [controller.name, controller.contact, controller.dpo_contact or "", controller.authority.name,
             controller.authority.contact]  # fmt: skip
    for entry in register.categories.values():
        texts += [*(entry.recipients or []), entry.title or "", entry.source or ""]
    texts += [f"{p.name} {p.role} {p.country}" for p in register.processors or []]
    return [t for t in texts if t]


def other_people(settings: Settings, request_id: str, matcher: Matcher) -> OtherPeople:
    """Every identifier known, before reading the data, to belong to someone other than the request's subject:
    the staff directory, laptop owners and other requests' subjects (decrypted in this process only)."""
    key = master_key(settings.state_dir)
    region = settings.controller.phone_region
    with session_scope(settings.database.url) as session:
        subject = subject_identifiers(session, request_id, key)
        others = cases.other_subjects(session, request_id, key)
    people = OtherPeople(matcher, subject_names=subject.names, allow=published_texts(settings))
    if settings.directory is not None:
        for entry in load_directory(settings.directory):
            people.add_person(
                "directory", names=entry.names, emails=entry.emails, phones=entry.phones, ids=entry.ids, region=region
            )
    for endpoint in settings.endpoints:
        if endpoint.owner:
            people.add_person("owner", emails=[endpoint.owner], region=region)
    for rows in others:
        people.add_person(
            "other_request",
            names=[v for k, v in rows if k == "name"],
            emails=[v for k, v in rows if k == "email"],
            phones=[v for k, v in rows if k == "phone"],
            ids=[v for k, v in rows if k == "user_id"],
            region=region,
        )
    return people


@dataclass
class _Staged:
    item: Finding
    value: object
    third: tuple[ThirdPartyFinding, ...]


def _decode(item: Finding) -> object:
    content = item.content
    if isinstance(content, str):
        try:
            return json.loads(content)
        except ValueError:
            return content
    return content


def _learned(staged: _Staged, people: OtherPeople, region: str) -> list[Learned]:
    """What one record shows about other people: their names next to their contacts, in salutations and
    signatures, the names their addresses spell, and every e-mail, phone and name presidio found."""
    learned = people.learned(staged.value)
    for finding in staged.third:
        if finding.entity == ThirdPartyEntity.EMAIL.value:
            learned.append(("email", finding.text, None))
        elif finding.entity == ThirdPartyEntity.PHONE.value:
            learned.append(("phone", finding.text, region))
        elif finding.entity == ThirdPartyEntity.PERSON.value:
            learned.append(("name", finding.text, None))
    return learned


def _document(item: Finding) -> tuple[str, str]:
    """The document an item belongs to (its conversation, else its file): markers are numbered within it."""
    loc = item.location
    name = loc.endpoint if loc.endpoint is not None else loc.store
    return str(name if name is not None else "unknown"), str(item.session_id or loc.path or "unsorted")


@dataclass(frozen=True, slots=True)  # one per distinct record of each document: tens of thousands
class _Redacted:
    text: str | SpooledText | int  # kept in the package's spool when there is one (in a child's part: its number)
    is_record: bool  # `text` is the JSON text of a redacted record (decoded again when the package is written)
    redactions: dict[str, int]


def _content_key(content: str | None) -> str | bytes:
    return b"none" if content is None else text_key(content)  # a digest is 16 bytes: never b"none"


_NO_REDACTIONS: dict[str, int] = {}  # shared by every item with nothing replaced; items' counts are only read


def _redact(
    staged: _Staged,
    matcher: Matcher,
    book: PlaceholderBook,
    others: Any,
    park: Callable[[str], str | SpooledText | int],
    sweeps: dict[Any, Any] | None = None,
    counts: dict[tuple[tuple[str, int], ...], dict[str, int]] | None = None,
) -> _Redacted:
    """One record redacted; `counts` (when given) keeps one copy of each distinct count of replacements, which
    the records that have it share (they are only read)."""
    value = staged.value
    redactions: dict[str, int] = _NO_REDACTIONS
    if value is not None:
        result = redact_record(value, matcher, staged.third, book=book, others=others, sweep_memory=sweeps)
        value = result.value
        if result.counts:
            redactions = dict(result.counts)
            if counts is not None:
                redactions = counts.setdefault(tuple(redactions.items()), redactions)
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False) if value is not None else ""
    is_record = value is not None and not isinstance(value, str)
    return _Redacted(park(text), is_record, redactions)


_T = TypeVar("_T")


class _Shared(dict[object, object]):
    """One copy of each value the items of a package repeat (paths, kinds, apps, categories):
    every staged finding is decoded afresh, so without it tens of thousands of equal strings are kept."""

    def __call__(self, value: _T) -> _T:
        return self.setdefault(value, value)  # type: ignore[return-value]

    def path(self, raw: str | None) -> str | None:
        """`proof_path` of a path (names that are not UTF-8 shown as `\\xNN`), computed once per path."""
        shown = self.get(("path", raw))
        if shown is None:
            text = proof_path(raw)
            shown = self.setdefault(("path", raw), self(raw if text == raw else text))  # most paths show as they are
        return shown  # type: ignore[return-value]


class _PathsShown(_Shared):
    """`_Shared` for items that are not kept in memory (spooled): only each path as shown is remembered (it is
    computed once per path); other values are not kept."""

    def __call__(self, value: _T) -> _T:
        return value


def _package_item(item: Finding, redacted: _Redacted, shared: _Shared | None = None) -> PackageItem:
    if isinstance(redacted.text, int):  # `_moved` takes a child's copies into the package's spool first
        raise TypeError("a redacted copy still in a child's spool part")
    one = _Shared() if shared is None else shared
    stamp = item.timestamp
    # The raw path is not kept: its place in the dict (the order report.json shows) gets the path as shown.
    location = {key: None if key == "path" else one(value) for key, value in item.location.to_dict().items()}
    location["path"] = one.path(item.path)
    return PackageItem(
        location=location,
        kind=one(item.kind),
        app=one(item.app),
        session_id=one.path(item.session_id),
        timestamp=datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None,
        categories=one(item.categories),
        content_source=redacted.text,
        record=None,
        record_in_content=redacted.is_record,  # the text is its JSON: the record is not kept twice
        context=(),
        reason=one(item.reason),
        redactions=redacted.redactions,  # read only: shared by the items of every text with the same counts
    )


def _searched(settings: Settings, scans: Sequence[LocationScan]) -> list[SearchedLocation]:
    kinds = {e.name: "endpoint" for e in settings.endpoints} | {s.name: "store" for s in settings.stores}
    searched = [
        SearchedLocation(
            name=s.location,
            type=kinds.get(s.location, "endpoint"),
            status=s.status if LocationStatus(s.status) is not LocationStatus.PENDING else "not_searched",
            reason=s.reason,
            since=s.first_attempt_at if not LocationStatus(s.status).was_read else None,
            attempts=s.attempts,
            artifacts=s.artifacts,
            findings=s.findings,
        )
        for s in scans
    ]
    searched.append(
        SearchedLocation(
            name="AI vendor (cloud copies)",
            type="vendor",
            status="not_searched",
            reason=VENDOR_NOTE,
            since=None,
            attempts=0,
            artifacts=0,
            findings=0,
        )
    )
    return searched


def assemble_package(
    settings: Settings, request_id: str, *, allow_incomplete_register: bool | None = None
) -> PackageResult | PortabilityResult:
    """Build the Art. 15 package (or the Art. 20 export) from the staged copies and complete the request.

    Steps: the register must answer every Art. 15 point for the categories found (else
    `RegisterIncompleteError`, unless incomplete registers are allowed: then the report says what is being
    completed); other people's identifiers are gathered from every source and from the data itself, then
    replaced in every record with markers numbered per conversation or file; the built package goes
    through the release check (`services.release_check`) and is sealed only when nothing is left, else it
    is kept as a sealed draft for the reviewer and `ReleaseBlockedError` lists the items. Both checks and
    their outcomes are audit events; the release check's outcome and the sealed package (with the date it is
    deleted) are signed ledger entries too.
    """
    allow_incomplete = (
        settings.access.allow_incomplete_register if allow_incomplete_register is None else allow_incomplete_register
    )
    matcher = build_matcher(settings, request_id)
    root = staging_dir(settings, request_id)
    key = request_key(settings, request_id)

    def staged() -> Iterator[Finding]:  # read from staging on each pass, one location file at a time
        return iter_staged(root, key)

    missing = _check_register(settings, request_id, allow_incomplete)
    classifier = Classifier(default_region=matcher.default_region, spacy_model=ner_model(settings))
    people = other_people(settings, request_id, matcher)
    out_dir = settings.access.package_dir
    with TextSpool(root, key) as spool:  # the redacted texts, sealed in staging; deleted however this ends
        items = _redacted_items(settings, staged, matcher, classifier, people, spool)
        package_input, released, open_gaps = _package_input(settings, request_id, items, missing)
        check = _ReleaseCheck(people, matcher, classifier, published_texts(settings), released)
        try:
            result = _build(settings, package_input, check)
            hits = check.the_rest(result.path)
        finally:
            check.close()
    _block_on_hits(settings, request_id, result, key, hits, len(released))
    sealed = seal_package(result.path, result.zip_path, key, request_id)
    draft_path(out_dir, request_id).unlink(missing_ok=True)
    publish_evidence(settings, request_id, sealed, "package")
    with session_scope(settings.database.url) as session:
        cases.record_event(
            session, cases.RELEASE_CHECK, request_id=request_id, outcome="passed", items=[], released=len(released)
        )
        request = cases.get_request(session, request_id)
        request.report_path = str(sealed)
        request.package_sha256 = result.manifest_sha256
        cases.transition(
            session,
            request,
            RequestStatus.COMPLETED,
            action="access.package_issued",
            package_sha256=result.manifest_sha256,
            items=len(items),
            gaps=len(open_gaps),
            register_incomplete=len(missing),
        )
        issued = request.closed_at or request.updated_at
    # The certificate of a later erasure states the retained package and its deletion date from this entry.
    record_package_sealed(
        settings,
        request_id,
        name=sealed.name,
        manifest_sha256=result.manifest_sha256,
        delete_on=package_delete_on(settings, issued),
    )
    shutil.rmtree(root, ignore_errors=True)
    return result


def _build(settings: Settings, package_input: PackageInput, check: _ReleaseCheck) -> PackageResult | PortabilityResult:
    """Write the access package (checking its files as they are written) or the portability export."""
    out_dir = settings.access.package_dir
    if RequestKind(package_input.kind) is RequestKind.PORTABILITY:
        return build_portability_export(package_input, out_dir)
    return build_access_package(
        package_input,
        out_dir,
        page_writer=check.pages,
        while_printing=check.files_so_far,
        while_zipping=check.finish,
        pdf_max_items=settings.access.pdf_max_items,
    )


class _ReleaseCheck:
    """The release check of one package: its page (report.html) written and checked by a forked copy of this
    process (`services.forked`) while this one writes the data files and checks them as the PDF prints (the
    browser works in its own process), then the rest while the package is zipped; hits are listed in file order,
    as one pass gives them.

    A page's strings are remembered apart from the data's (`check_package`), so the split changes no result;
    where no child can run (or one fails) this process writes and checks the page itself.
    """

    def __init__(
        self, people: OtherPeople, matcher: Matcher, classifier: Classifier, allow: list[str], released: Any
    ) -> None:
        self._kwargs: dict[str, Any] = {
            "others": people, "matcher": matcher, "classifier": classifier, "allow": allow, "released": released
        }  # fmt: skip
        self._cache: CheckCache = {}
        self._checked: set[str] = set()
        self._hits: list[ReleaseItem] = []
        self._pages: forked.Forked[list[ReleaseItem]] | None = None
        self._done: list[ReleaseItem] | None = None

    def pages(self, root: Path, write: Callable[[], None]) -> PageJob:
        """Write the page (`write`) and check it in a forked child, started before anything else is written
        (the child then holds none of the browser's pipes); without a child, here and now. Waiting for the
        returned job returns once report.html is complete and checked (written again and checked here where the
        child failed); cancelling it ends the child."""
        job = forked.start(functools.partial(self._write_and_check, root, write))
        if job.in_child:
            self._pages = job
        else:
            self._hits += job.result()
        return PageJob(wait=functools.partial(self._pages_written, root, write), cancel=self.close)

    def _write_and_check(self, root: Path, write: Callable[[], None]) -> list[ReleaseItem]:
        write()
        return check_package(root, files=_pages_of(root), **self._kwargs)

    def _pages_written(self, root: Path, write: Callable[[], None]) -> None:
        if self._pages is not None:
            self._hits += self._pages.result(instead=functools.partial(self._write_and_check, root, write))
            self._pages = None  # only now: until the result is in, `close` ends the child
        self._checked.update(_pages_of(root))

    def files_so_far(self, root: Path) -> None:
        """Check the package's text files written so far and not checked yet, but the page (the data files;
        the page may still be being written by the child)."""
        files = [name for name in _written(root) if name not in self._checked and not _is_page(name)]
        self._hits += check_package(root, files=files, cache=self._cache, **self._kwargs)
        self._checked.update(files)

    def finish(self, root: Path) -> None:
        """Check the files not checked yet in the finished package at `root` (while it is zipped: `the_rest`
        then gives the hits)."""
        self._done = self._the_rest(root)

    def the_rest(self, root: Path) -> list[ReleaseItem]:
        """Every hit, in the package's file order: `finish`'s, or (a package built without that hook) those of
        a check now of the files not checked yet, with the package at `root`."""
        if self._done is None:
            self._done = self._the_rest(root)
        return self._done

    def _the_rest(self, root: Path) -> list[ReleaseItem]:
        """Check the files not checked yet; every hit, in the package's file order."""
        order = {name: n for n, name in enumerate(text_files(root))}
        rest = [name for name in order if name not in self._checked]
        hits = self._hits + check_package(root, files=rest, cache=self._cache, **self._kwargs)
        return sorted(hits, key=lambda hit: order.get(hit.file, len(order)))

    def close(self) -> None:
        """End the page's writing and check if they are still running (the package was not finished): nothing
        writes into the package afterwards."""
        if self._pages is not None:
            self._pages.cancel()
            self._pages = None


def _written(root: Path) -> list[str]:
    """The package's text files written so far, not the page's print copy."""
    return [name for name in text_files(root) if not name.rpartition("/")[2].startswith(".")]


def _is_page(name: str) -> bool:
    return name.endswith(".html")


def _pages_of(root: Path) -> list[str]:
    """The package's pages (report.html), once written."""
    return [name for name in _written(root) if _is_page(name)]


def _block_on_hits(
    settings: Settings,
    request_id: str,
    result: PackageResult | PortabilityResult,
    key: bytes,
    hits: list[ReleaseItem],
    released: int,
) -> None:
    """Record the release check's outcome (a signed ledger entry); with hits, seal the draft and refuse.

    Raises:
        ReleaseBlockedError: the check found other people's data.
    """
    items = [h.as_dict() for h in hits]
    record_release_check(settings, request_id, passed=not hits, items=items, released=released)
    if not hits:
        return
    seal_draft(result.path, result.zip_path, key, request_id)
    with session_scope(settings.database.url) as session:
        cases.record_event(
            session, cases.RELEASE_CHECK, request_id=request_id, outcome="blocked", items=items, released=released
        )
    raise ReleaseBlockedError(request_id, hits)


def found_codes(session: Session, request_id: str) -> list[str]:
    """The category codes of the request's findings, from their rows in the case database (staging is not
    read for them), in the order of the staged copies: by location file, then as found."""
    rows = session.exec(
        select(FindingRow.location, FindingRow.categories, func.min(FindingRow.id))
        .where(FindingRow.request_id == request_id)
        .group_by(col(FindingRow.location), col(FindingRow.categories))
    ).all()
    ordered = sorted(rows, key=lambda row: (f"{row[0]}.jsonl.enc", row[2] or 0))  # as `iter_staged` reads them
    return list(dict.fromkeys(str(code) for _, categories, _ in ordered for code in json.loads(categories)))


def _check_register(settings: Settings, request_id: str, allow_incomplete: bool) -> list[str]:
    """The register keys the found categories need and the register lacks (an audit event when any do).

    Raises:
        RegisterIncompleteError: keys are missing and incomplete registers are not allowed.
    """
    with session_scope(settings.database.url) as session:
        codes = found_codes(session, request_id)
    missing = missing_register_keys(settings.processing_register, codes)
    if missing:
        with session_scope(settings.database.url) as session:
            cases.record_event(
                session,
                cases.REGISTER_CHECK,
                request_id=request_id,
                outcome="incomplete_allowed" if allow_incomplete else "blocked",
                missing=missing,
            )
        if not allow_incomplete:
            raise RegisterIncompleteError(request_id, missing)
    return list(missing)


def _redacted_items(
    settings: Settings,
    staged: Callable[[], Iterable[Finding]],
    matcher: Matcher,
    classifier: Classifier,
    people: OtherPeople,
    spool: TextSpool | None = None,
) -> Sequence[PackageItem]:
    """Every staged finding as a package item, other people replaced by markers numbered per document.

    Two passes over staging (`staged` reads it afresh; no decoded record is kept between them): the first
    classifies every record and learns other people from the data itself, the second redacts with everything
    learned (a name learned late in one conversation is still replaced early on). The same record text
    recurs (transcript, audit log, superseded copies): it is classified and learned from once, and redacted
    once per document (its markers are already numbered there, so the copy is the same). With a `spool`,
    each redacted text is sealed into it once and the items hold only where it is, and the items themselves go
    to its item list (`TextSpool.items`, which is returned): neither texts nor items stay in memory.
    """
    third_parties = _classified(staged, matcher, classifier, people, settings.controller.phone_region, spool)
    finder = people.finder(REDACTION_SOURCES)
    redacted = _redacted_copies(staged, third_parties, matcher, finder.find if finder else None, spool)
    out: list[PackageItem] | SpooledItems = [] if spool is None else spool.items
    shared = _Shared() if spool is None else _PathsShown()  # spooled items are not kept: nothing to share
    for item in staged():
        done = redacted.get(_document(item), {}).get(_content_key(item.content))
        if done is None:  # a text no process redacted: staging changed since it was read
            raise StagingChangedError()
        out.append(_package_item(item, done, shared))
    if finder:
        finder.forget()  # the build searches its own strings: the memory of the records' strings would stay unused
    if spool is not None:
        spool.discard(_THIRD_PART)  # the third parties are not read again
    return out if isinstance(out, SpooledItems) else tuple(out)


# Each document's distinct texts, redacted: document -> content key -> its redacted copy.
_Copies = dict[tuple[str, str], dict[str | bytes, "_Redacted"]]


def _redacted_copies(
    staged: Callable[[], Iterable[Finding]],
    third_parties: dict[str | bytes, _Parked],
    matcher: Matcher,
    others: Callable[[str], list[OtherHit]] | None,
    spool: TextSpool | None,
) -> _Copies:
    """Every document's distinct texts redacted once, with markers numbered per document in staging's order.

    Every other document (in the order documents first appear) is redacted by a forked copy of this process
    (`services.forked`) while this one redacts the rest: a document's markers depend on its own texts only.
    The child seals its copies into a spool part of its own; they are moved into the package's spool here and
    the part deleted. Where no child can be forked (not Linux), one pass here redacts every document.
    """
    shares = _SHARES if forked.can_fork() else 1

    def share(n: int, park: Callable[[str], str | SpooledText | int]) -> _Copies:
        return _redact_share(staged, third_parties, matcher, others, (n, shares), park)

    job = forked.start(functools.partial(_their_copies, share, spool)) if shares > 1 else None
    try:
        mine = share(0, spool.add if spool is not None else _as_is)
        theirs, layout = job.result() if job is not None else ({}, None)
    finally:
        if job is not None:
            job.cancel()
    part = spool.adopt(_COPIES_PART, layout) if spool is not None and layout is not None else None
    for document, copies in theirs.items():
        mine[document] = {key: _moved(done, part, spool) for key, done in copies.items()}
    if spool is not None:
        spool.discard(_COPIES_PART)  # its texts are in the package's spool now
    return mine


def _their_copies(
    share: Callable[[int, Callable[[str], str | SpooledText | int]], _Copies], spool: TextSpool | None
) -> tuple[_Copies, tuple[bytes, bytes, bytes] | None]:
    """The second share of the documents, as the forked child redacts it: its copies sealed into a spool part
    of its own (their record numbers there, and the part's layout, go to the parent)."""
    if spool is None:
        return share(1, _as_is), None
    return _in_part(spool, _COPIES_PART, lambda seal: share(1, seal))


def _redact_share(
    staged: Callable[[], Iterable[Finding]],
    third_parties: dict[str | bytes, _Parked],
    matcher: Matcher,
    others: Callable[[str], list[OtherHit]] | None,
    share: tuple[int, int],
    park: Callable[[str], str | SpooledText | int],
) -> _Copies:
    """The documents of one share (`share` = (n, of): the k-th document to appear when k % of == n), each
    distinct text of each redacted once, in staging's order."""
    n, of = share
    books: dict[tuple[str, str], PlaceholderBook] = {}
    sweeps: dict[Any, Any] = {}  # the compiled sweeps of other people's values: this request's only
    counts: dict[tuple[tuple[str, int], ...], dict[str, int]] = {}  # each distinct count of replacements, once
    redacted: _Copies = {}
    ours: dict[tuple[str, str], bool] = {}
    for item in staged():
        document = _document(item)
        mine = ours.get(document)
        if mine is None:  # the first item of a document: its name is kept once, not once per text
            mine = ours[document] = len(ours) % of == n
        if not mine:
            continue
        key = _content_key(item.content)
        if key not in third_parties:  # a record the first pass did not read: staging changed meanwhile
            raise StagingChangedError()
        copies = redacted.setdefault(document, {})
        if key not in copies:
            entry = _Staged(item, _decode(item), _unpark(third_parties[key]))
            book = books.setdefault(document, PlaceholderBook())
            copies[key] = _redact(entry, matcher, book, others, park, sweeps, counts)
    return redacted


#: The spool parts of the forked children: the first pass's third parties, the second's redacted copies.
_THIRD_PART, _COPIES_PART = 1, 2


def _in_part(
    spool: TextSpool, number: int, work: Callable[[Callable[[str], int]], _T]
) -> tuple[_T, tuple[bytes, bytes, bytes]]:
    """`work`'s result, given what seals a text into spool part `number` (its record number there), and the
    part's layout for the parent (`TextSpool.adopt`): how a forked child hands over what it produced."""
    part = spool.part(number)
    try:
        done = work(lambda text: part.append(text.encode("utf-8", "surrogatepass")))
    finally:
        part.close()
    return done, part.layout()


def _as_is(text: str) -> str:
    return text


def _moved(done: _Redacted, part: RecordSpool | None, spool: TextSpool | None) -> _Redacted:
    """A child's redacted copy with its text moved from its spool part into the package's spool."""
    if not isinstance(done.text, int):
        return done
    if spool is None:
        raise ValueError("a child's spool part without the package's spool")
    text = _part(part).read(done.text).decode("utf-8", "surrogatepass")
    return _Redacted(spool.add(text), done.is_record, done.redactions)


_Parked = tuple[ThirdPartyFinding, ...] | SpooledText
# One distinct record classified: its content key, its third parties (parked; in a forked child's spool part, the
# number of their record there) and what it shows about other people.
_Classified = tuple[str | bytes, "_Parked | int", list[Learned]]
_Share = Callable[
    [int, Callable[[tuple[ThirdPartyFinding, ...]], "_Parked | int"], Callable[[str | bytes], None]], list[_Classified]
]
#: Distinct records are classified (`_Dealer` deals them), and documents redacted, in this many shares where a
#: child can be forked, the first share here.
_SHARES = 2


class _Dealer:
    """Deals distinct records to `of` shares in the order they come, each to the share with the least text so far
    (the first of equals): every process that reads staging in the same order deals them the same way without
    telling the others. Shares of about equal text are about equal classification work; taking every other
    record is not (records of different kinds alternate in staging: 19 against 13 million characters on the
    assembly benchmark). A document's redaction is not weighed by its text (weighed so, the shares came out less
    even than every other document), so documents are still taken in turn."""

    __slots__ = ("_load",)

    def __init__(self, of: int) -> None:
        self._load = [0] * of

    def deal(self, size: int) -> int:
        """The share of the next unit, of `size` characters."""
        share = self._load.index(min(self._load))
        self._load[share] += size
        return share


def _classified(
    staged: Callable[[], Iterable[Finding]],
    matcher: Matcher,
    classifier: Classifier,
    people: OtherPeople,
    region: str,
    spool: TextSpool | None,
) -> dict[str | bytes, _Parked]:
    """Every distinct record's third parties (parked), and what the records show about other people learned,
    in staging's order.

    About half the distinct records (by their text: `_Dealer`) are classified by a forked copy of this process
    (`services.forked`) while this one classifies the rest; both read staging afresh. The child seals its
    records' third parties into a spool part of its own and sends where they are, with what each record shows
    about other people and its memory of pieces (taken over here: the release check reads it). What the records
    show is then learned here, in order: learning never changes what classification finds, so the people known
    and the third parties are those of one pass. Where no child can be forked (not Linux), one pass here
    classifies every record.
    """
    shares = _SHARES if forked.can_fork() else 1

    def share(
        n: int, park: Callable[[tuple[ThirdPartyFinding, ...]], _Parked | int], note: Callable[[str | bytes], None]
    ) -> list[_Classified]:
        return _classify_share(staged, matcher, classifier, people, region, (n, shares), park, note)

    job = forked.start(functools.partial(_their_share, share, classifier, spool)) if shares > 1 else None
    order: list[str | bytes] = []  # every distinct record's key, in staging's order
    try:
        mine = share(0, lambda third: _park(third, spool), order.append)
        theirs, pieces, layout, read = job.result() if job is not None else ([], {}, None, None)
    finally:
        if job is not None:
            job.cancel()
    if read is not None and read != _KeysRead.of(order):
        # The other process read other records (they may still have been dealt alike): staging changed meanwhile.
        raise StagingChangedError()
    classifier.remember(pieces)
    part = spool.adopt(_THIRD_PART, layout) if spool is not None and layout is not None else None
    found = {key: (parked, learned) for key, parked, learned in theirs}
    found.update((key, (parked, learned)) for key, parked, learned in mine)
    third_parties: dict[str | bytes, _Parked] = {}
    for key in order:
        if key not in found:  # a record the other process did not read: staging changed meanwhile
            raise StagingChangedError()
        parked, learned = found.pop(key)
        people.add_learned(learned)
        third_parties[key] = parked if not isinstance(parked, int) else SpooledText(_part(part), parked)
    return third_parties


def _part(part: RecordSpool | None) -> RecordSpool:
    if part is None:  # a record number comes only from a spool part, which was adopted
        raise ValueError("a child's spool part was not adopted")
    return part


def _their_share(
    share: _Share, classifier: Classifier, spool: TextSpool | None
) -> tuple[list[_Classified], dict[Any, Any], tuple[bytes, bytes, bytes] | None, bytes]:
    """The second share, as the forked child classifies it: its third parties sealed into a spool part of its
    own (their record numbers there, and the part's layout, go to the parent), its memory of pieces, and the
    digest of the distinct records it read (`_KeysRead`: the parent compares it with its own read)."""
    read = _KeysRead()
    if spool is None:
        return share(1, lambda third: third, read.add), classifier.remembered(), None, read.digest()
    rows, layout = _in_part(
        spool, _THIRD_PART, lambda seal: share(1, lambda third: seal(_rows_json(third)) if third else third, read.add)
    )
    return rows, classifier.remembered(), layout, read.digest()


class _KeysRead:
    """A digest of the distinct records' keys one pass read, in order: two processes that read staging apart
    compare it, so any difference between their reads stops the assembly (`StagingChangedError`)."""

    __slots__ = ("_hash",)

    def __init__(self) -> None:
        self._hash = hashlib.blake2b(digest_size=16)

    def add(self, key: str | bytes) -> None:
        data = key if isinstance(key, bytes) else key.encode("utf-8", "surrogatepass")
        self._hash.update((b"b" if isinstance(key, bytes) else b"s") + len(data).to_bytes(8, "big") + data)

    def digest(self) -> bytes:
        return self._hash.digest()

    @classmethod
    def of(cls, keys: Iterable[str | bytes]) -> bytes:
        read = cls()
        for key in keys:
            read.add(key)
        return read.digest()


def _classify_share(
    staged: Callable[[], Iterable[Finding]],
    matcher: Matcher,
    classifier: Classifier,
    people: OtherPeople,
    region: str,
    share: tuple[int, int],
    park: Callable[[tuple[ThirdPartyFinding, ...]], _Parked | int],
    note: Callable[[str | bytes], None] | None = None,
) -> list[_Classified]:
    """The distinct records of one share (`share` = (n, of): those `_Dealer` deals to share n, by their text),
    classified, in staging's order (every distinct key goes to `note`, in order, when given). What a record
    shows that an earlier record of the share showed already is left out: adding it again would change nothing
    (the same identifier recurs across a request's records)."""
    n, of = share
    seen: set[str | bytes] = set()
    shown: set[Learned] = set()
    out: list[_Classified] = []
    dealer = _Dealer(of)
    for item in staged():
        key = _content_key(item.content)
        if key in seen:
            continue
        seen.add(key)
        if note is not None:
            note(key)
        if dealer.deal(len(item.content or "")) != n:
            continue
        value = _decode(item)
        third = classifier.classify(value, matcher).third_parties if value is not None else ()
        learned = []
        for entry in _learned(_Staged(item, value, third), people, region):
            if entry not in shown:
                shown.add(entry)
                learned.append(entry)
        out.append((key, park(third), learned))
    return out


def _rows_json(third: tuple[ThirdPartyFinding, ...]) -> str:
    """A record's third-party findings as compact JSON rows (how they are parked)."""
    rows = [[f.pointer, f.in_key, f.start, f.end, f.entity, f.text] for f in third]
    return json.dumps(rows, ensure_ascii=False, separators=(",", ":"))


def _park(third: tuple[ThirdPartyFinding, ...], spool: TextSpool | None) -> _Parked:
    """A record's third-party findings between the two passes: sealed into the spool as JSON when there is one
    (they are most of the first pass's memory: a few hundred bytes each, hundreds of thousands of them)."""
    if not third or spool is None:
        return third
    return spool.add(_rows_json(third))


def _unpark(parked: _Parked) -> tuple[ThirdPartyFinding, ...]:
    if not isinstance(parked, SpooledText):
        return parked
    return tuple(ThirdPartyFinding(*row) for row in json.loads(parked.read_text()))


def _package_input(
    settings: Settings, request_id: str, items: Sequence[PackageItem], missing: Sequence[str]
) -> tuple[PackageInput, dict[str, str], list[LocationScan]]:
    """The package's input (request, register, items, scope), the items the reviewer released, and the
    locations still open."""
    with session_scope(settings.database.url) as session:
        request: Request = cases.get_request(session, request_id)
        scans = [s for s in cases.location_scans(session, request_id) if s.phase == DISCOVERY]
        released = cases.released_items(session, request_id)
        searched = _searched(settings, scans)
        open_gaps = [s for s in scans if not LocationStatus(s.status).is_final]
        gaps_note = None
        if open_gaps:
            gaps_note = "Issued before every system could be searched: " + "; ".join(
                f"{s.location} {STATUS_WORDS.get(s.status, 'not searched')} since "
                f"{s.first_attempt_at:%Y-%m-%d %H:%M} UTC, tried {s.attempts} times"
                if s.first_attempt_at
                else f"{s.location} never reached"
                for s in open_gaps
            )
        package_input = PackageInput(
            request_id=request.id,
            kind=request.kind,
            generated_at=utcnow(),
            received_at=request.received_at,
            due=effective_due(request),
            controller=settings.controller,
            register=settings.processing_register,
            items=items,
            searched=tuple(searched),
            gaps_note=gaps_note,
            register_missing=tuple(missing),
            identity=identity_record(settings, request_id),
        )
    return package_input, released, open_gaps


def request_kind(settings: Settings, request_id: str) -> str:
    """The kind of a request (`access`, `portability`, ...), for naming its run."""
    with session_scope(settings.database.url) as session:
        return cases.get_request(session, request_id).kind


def open_access_requests(settings: Settings) -> list[str]:
    """Ids of access and portability requests in progress (for the sweep)."""
    with session_scope(settings.database.url) as session:
        rows = session.exec(
            select(Request.id).where(
                col(Request.kind).in_([k.value for k in ACCESS_KINDS]),
                Request.status == RequestStatus.IN_PROGRESS.value,
            )
        ).all()
        return list(rows)
