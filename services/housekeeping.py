"""Housekeeping run by the daily deadline watch: keep personal data only as long as it must be kept.

- Requests closed longer than `[prefect].flow_run_retention_days` are listed so that the flow deletes their
  Prefect flow runs (run names start with the request id: `<id>-access`, `<id>-erasure`).
- Sealed access packages are deleted `[access].delivery_window_days` after issue; the request keeps the
  package's manifest hash, and the deletion is a signed ledger entry (`package_deleted`).
- Staging copies and blocked drafts of a closed request (withdrawn, refused, or ended while a draft waited)
  are deleted; they were made for the request only.
- Identifiers of requests closed longer than the record-keeping period are dropped (keyed hashes stay) and
  their request keys destroyed.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

from sqlmodel import col, select

from models import cases
from models.db import session_scope
from models.errors import RequestBusyError
from models.flow_names import request_run_names, scan_batch_run_prefix
from models.run_lock import run_lock
from models.settings import Settings
from models.tables import Request, utcnow
from services.request_ledger import record_package_deleted
from services.staging import draft_path


def closed_request_ids(settings: Settings, *, now: datetime) -> list[str]:
    """Requests closed before `now - flow_run_retention_days`."""
    cutoff = now - timedelta(days=settings.prefect.flow_run_retention_days)
    with session_scope(settings.database.url) as session:
        rows = session.exec(
            select(Request.id).where(col(Request.closed_at).is_not(None), col(Request.closed_at) <= cutoff)
        ).all()
        return list(rows)


def delete_expired_packages(settings: Settings, *, now: datetime | None = None) -> list[str]:
    """Delete sealed packages issued more than the delivery window ago; returns their request ids.

    Per package, after checking that the request still names it: the file is moved aside, the signed
    `package_deleted` entry is written (under a stable key, so a repeat adds nothing), the file is deleted and
    the request's `report_path` cleared. A package that cannot be moved gets no entry; when the entry cannot be
    written the file is moved back and stays listed for the next run. So the ledger says deleted only of a
    package that is gone or going, and a certificate never calls a deleted package retained."""
    cutoff = (now or utcnow()) - timedelta(days=settings.access.delivery_window_days)
    with session_scope(settings.database.url) as session:
        rows = session.exec(select(Request).where(col(Request.report_path).is_not(None))).all()
        expired = [
            (r.id, Path(r.report_path or ""), r.package_sha256)
            for r in rows
            if (r.closed_at or r.updated_at) <= cutoff and (r.report_path or "").endswith(".zip.enc")
        ]
    deleted = []
    for request_id, path, digest in expired:
        with session_scope(settings.database.url) as session:
            request = session.get(Request, request_id)
            if request is None or request.report_path != str(path):
                continue  # reissued or handled meanwhile: nothing is deleted, nothing recorded
            doomed = path.with_name(f".{path.name}.deleting")
            if path.exists():
                path.replace(doomed)  # out of the way first: a package that cannot be moved is not recorded
            try:
                record_package_deleted(settings, request_id, name=path.name, manifest_sha256=digest)
            except BaseException:
                if doomed.exists():
                    doomed.replace(path)  # no entry, so the package stays where it was, for the next run
                raise
            doomed.unlink(missing_ok=True)
            request.report_path = None
            session.add(request)
            cases.record_event(session, "access.package_deleted", request_id=request_id, package_sha256=digest)
        deleted.append(request_id)
    return deleted


def closed_request_run_names(settings: Settings, *, now: datetime | None = None) -> list[str]:
    """Flow run names of requests closed longer than `[prefect].flow_run_retention_days`."""
    return [name for rid in closed_request_ids(settings, now=now or utcnow()) for name in request_run_names(rid)]


def closed_request_batch_prefixes(settings: Settings, *, now: datetime | None = None) -> list[str]:
    """What the names of the batch runs (`<id>-scan-batch-<n>`) of the same requests start with: with
    `[access].scan_deployment` they are flow runs of their own, which deleting the access run leaves."""
    return [scan_batch_run_prefix(rid) for rid in closed_request_ids(settings, now=now or utcnow())]


def pseudonymise(settings: Settings, *, now: datetime | None = None) -> list[str]:
    """Drop identifier values of requests closed longer than the record-keeping period (keyed hashes stay)."""
    with session_scope(settings.database.url) as session:
        return cases.pseudonymise_closed_requests(session, settings, now=now)


def discard_working_copies(settings: Settings, request_id: str) -> int:
    """Delete what a request gathered but never delivered: its staging copies, a blocked draft package and
    any plaintext package left by an interrupted assembly. The sealed, delivered package is not touched (its
    lifetime is the delivery window). Records one event with the count; returns how many paths went.

    Called when a request is withdrawn or refused, and by the daily watch for every closed request, so that
    copies made for a request never outlive it. Done under the request's run lock: a run still writing them
    would leave half a copy behind, so while one holds the request they stay for the next daily sweep.

    Raises:
        RequestBusyError: a run of the request holds its run lock (nothing was deleted).
    """
    with run_lock(settings.database.url, request_id):
        return _discard_working_copies(settings, request_id)


def _discard_working_copies(settings: Settings, request_id: str) -> int:
    package_dir = settings.access.package_dir
    candidates = (
        package_dir / "staging" / request_id,
        draft_path(package_dir, request_id),
        package_dir / request_id,
        package_dir / f"{request_id}.zip",
    )
    removed = 0
    for path in candidates:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
        else:
            continue
        removed += 1
    if removed:
        with session_scope(settings.database.url) as session:
            cases.record_event(session, "request.working_copies_discarded", request_id=request_id, paths=removed)
    return removed


def discard_closed_working_copies(settings: Settings) -> list[str]:
    """`discard_working_copies` for every closed request that still has some and no run holds; returns their
    ids."""
    staging = settings.access.package_dir / "staging"
    pending = {p.name for p in staging.iterdir()} if staging.is_dir() else set()
    pending |= {p.name.removesuffix(".draft.zip.enc") for p in settings.access.package_dir.glob("*.draft.zip.enc")}
    if not pending:
        return []
    with session_scope(settings.database.url) as session:
        closed = session.exec(
            select(Request.id).where(col(Request.id).in_(sorted(pending)), col(Request.closed_at).is_not(None))
        ).all()
    discarded = []
    for rid in closed:
        try:
            if discard_working_copies(settings, rid):
                discarded.append(rid)
        except RequestBusyError:
            continue  # a run is still writing them: the next sweep deletes them
    return discarded
