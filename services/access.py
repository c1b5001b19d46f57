"""The access request as plain functions: start, scan one location, progress, assemble the package.

Flows and the CLI call these; tests call them without Prefect. They read identifiers from the case
database themselves: nothing personal crosses a function boundary that Prefect could record. Copies of
data are written only to the request's private staging directory and then into the access package.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, delete, select

from connectors.layouts import CoverageGap
from connectors.registry import open_location
from connectors.s3 import S3Connector
from detection.classify import Classifier
from detection.matcher import Matcher
from detection.redact import PlaceholderBook, redact_record
from detection.scan import ScanResult, scan_endpoint
from detection.scan_store import scan_store
from erasure.proof_path import proof_path
from models import cases
from models.db import session_scope
from models.errors import ConnectorError, DsrError, InputError
from models.identity import require_identity
from models.settings import Settings
from models.tables import Finding, LocationScan, Request, utcnow
from models.types import LocationStatus, RequestKind, RequestStatus
from reports.access_input import PackageInput, PackageItem, SearchedLocation
from reports.access_package import PackageResult, build_access_package
from reports.portability import PortabilityResult, build_portability_export
from services.evidence import publish_evidence
from services.identity import identity_record
from services.staging import (
    iter_staged,
    seal_package,
    staging_dir,
    write_staging,
)
from services.subject import build_matcher, request_key

DISCOVERY = "discovery"
ACCESS_KINDS = (RequestKind.ACCESS, RequestKind.PORTABILITY)
VENDOR_NOTE = (
    "Copies held by the AI vendor (cloud sessions, enterprise compliance captures) are not on our systems: "
    "they are listed here and requested from the vendor separately."
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
        InvalidTransitionError: the request is closed or is not an access or portability request.
    """
    with session_scope(settings.database.url) as session:
        cases.sync_locations(session, settings)
        request = cases.get_request(session, request_id)
        if RequestKind(request.kind) not in ACCESS_KINDS:
            raise InputError(f"request {request_id} is a {request.kind} request, not access or portability")
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


def _store_findings(session: Session, request_id: str, location: str, items: tuple[dict[str, Any], ...]) -> None:
    session.exec(delete(Finding).where(col(Finding.request_id) == request_id, col(Finding.location) == location))
    for item in items:
        loc = item["location"]
        content = item.get("content") or ""
        stamp = item.get("timestamp")
        session.add(
            Finding(
                request_id=request_id,
                location=location,
                path=proof_path(loc["path"]) or "",  # bytes that are not UTF-8 as `\xNN` (as in the ledger)
                line=loc.get("line"),
                version_id=loc.get("version_id"),
                kind=item["kind"],
                session_id=proof_path(item.get("session_id")),
                pointers=json.dumps(item.get("pointers", [])),
                content_sha256=hashlib.sha256(content.encode("utf-8", "surrogatepass")).hexdigest(),
                categories=json.dumps(item.get("categories", [])),
                record_at=datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None,
                reason=str(item.get("reason", "match"))[:16],
            )
        )


def _scan(settings: Settings, location: str, matcher: Matcher) -> ScanResult:
    connector = open_location(location, settings)
    with connector:
        if isinstance(connector, S3Connector):
            return scan_store(connector, matcher)
        owners = [e.owner for e in settings.endpoints if e.name == location and e.owner]
        return scan_endpoint(connector, location, matcher, owner_ids=owners)


def gaps_reason(gaps: Sequence[CoverageGap], encrypted: Sequence[str] = ()) -> str | None:
    """The status reason of a location scanned with coverage gaps: the stores not read, relative to their
    home (no user names), and the number of encrypted conversation stores; None without either."""
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
    return "; ".join(parts) or None


def scan_location(settings: Settings, request_id: str, location: str) -> ScanOutcome:
    """Scan one location for the request's subject and record the outcome; never raises connector errors.

    Findings go to the case database as locations, pointers and hashes; the copies go to the request's
    private staging directory. A failed location keeps its previous findings and gets its status and reason.
    """
    now = utcnow()
    try:
        matcher = build_matcher(settings, request_id)
        result = _scan(settings, location, matcher)
    except ConnectorError as exc:
        outcome = ScanOutcome(location, exc.status.value, proof_path(f"{type(exc).__name__}: {exc}"))
    except DsrError as exc:
        outcome = ScanOutcome(location, LocationStatus.FAILED.value, proof_path(f"{type(exc).__name__}: {exc}"))
    except Exception as exc:  # noqa: BLE001 - a location's failure is recorded whatever it is (an honest status)
        outcome = ScanOutcome(location, LocationStatus.FAILED.value, f"unexpected {type(exc).__name__}")
    else:
        key = request_key(settings, request_id)
        write_staging(staging_dir(settings, request_id) / f"{location}.jsonl.enc", result.items, key)
        outcome = ScanOutcome(
            location,
            (
                LocationStatus.SCANNED_WITH_GAPS if result.gaps or result.encrypted_stores else LocationStatus.SCANNED
            ).value,
            gaps_reason(result.gaps, result.encrypted_stores),
            result.files_scanned,
            result.bytes_scanned,
            len(result.items),
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
            _store_findings(session, request_id, location, result.items)
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
        due = cases.effective_due(request)
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


def _package_item(item: dict[str, Any], matcher: Matcher, classifier: Classifier, book: PlaceholderBook) -> PackageItem:
    content = item.get("content")
    value: object = content
    if isinstance(content, str):
        try:
            value = json.loads(content)
        except ValueError:
            value = content
    redactions: dict[str, int] = {}
    record: object | None = None
    if value is not None:
        third = classifier.classify(value, matcher).third_parties
        result = redact_record(value, matcher, third, book=book)
        value = result.value
        redactions = dict(result.counts)
        record = value if not isinstance(value, str) else None
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False) if value is not None else ""
    stamp = item.get("timestamp")
    location = dict(item["location"])
    location["path"] = proof_path(location.get("path"))  # names that are not UTF-8 shown as `\xNN`
    return PackageItem(
        location=location,
        kind=item["kind"],
        app=item.get("app"),
        session_id=proof_path(item.get("session_id")),
        timestamp=datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None,
        categories=tuple(item.get("categories", [])),
        content=text,
        record=record,
        context=(),
        reason=item.get("reason", "match"),
        redactions=redactions,
    )


def assemble_package(settings: Settings, request_id: str) -> PackageResult | PortabilityResult:
    """Build the Art. 15 package (or the Art. 20 export) from the staged copies and complete the request."""
    matcher = build_matcher(settings, request_id)
    classifier = Classifier(default_region=matcher.default_region)
    book = PlaceholderBook()
    root = staging_dir(settings, request_id)
    key = request_key(settings, request_id)
    items = tuple(_package_item(item, matcher, classifier, book) for item in iter_staged(root, key))
    with session_scope(settings.database.url) as session:
        request: Request = cases.get_request(session, request_id)
        scans = [s for s in cases.location_scans(session, request_id) if s.phase == DISCOVERY]
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
        open_gaps = [s for s in scans if not LocationStatus(s.status).is_final]
        gaps_note = None
        if open_gaps:
            gaps_note = "Issued before every system could be searched: " + "; ".join(
                f"{s.location} {s.status} since {s.first_attempt_at:%Y-%m-%d %H:%M} UTC, tried {s.attempts} times"
                if s.first_attempt_at
                else f"{s.location} never reached"
                for s in open_gaps
            )
        package_input = PackageInput(
            request_id=request.id,
            kind=request.kind,
            generated_at=utcnow(),
            received_at=request.received_at,
            due=cases.effective_due(request),
            controller=settings.controller,
            register=settings.processing_register,
            items=items,
            searched=tuple(searched),
            gaps_note=gaps_note,
            identity=identity_record(settings, request_id),
        )
    out_dir = settings.access.package_dir
    result: PackageResult | PortabilityResult
    if RequestKind(request.kind) is RequestKind.PORTABILITY:
        result = build_portability_export(package_input, out_dir)
    else:
        result = build_access_package(package_input, out_dir)
    sealed = seal_package(result.path, result.zip_path, key, request_id)
    publish_evidence(settings, request_id, sealed, "package")
    with session_scope(settings.database.url) as session:
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
        )
    shutil.rmtree(root, ignore_errors=True)
    return result


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
