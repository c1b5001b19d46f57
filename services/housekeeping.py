"""Housekeeping run by the daily deadline watch: keep personal data only as long as it must be kept.

- Requests closed longer than `[prefect].flow_run_retention_days` are listed so that the flow deletes their
  Prefect flow runs (run names start with the request id: `<id>-access`, `<id>-erasure`).
- Sealed access packages are deleted `[access].delivery_window_days` after issue; the request keeps the
  package's manifest hash, and the deletion is a signed ledger entry (`package_deleted`).
- Identifiers of requests closed longer than the record-keeping period are dropped (keyed hashes stay) and
  their request keys destroyed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sqlmodel import col, select

from models import cases
from models.db import session_scope
from models.flow_names import request_run_names
from models.settings import Settings
from models.tables import Request, utcnow
from services.request_ledger import record_package_deleted


def closed_request_ids(settings: Settings, *, now: datetime) -> list[str]:
    """Requests closed before `now - flow_run_retention_days`."""
    cutoff = now - timedelta(days=settings.prefect.flow_run_retention_days)
    with session_scope(settings.database.url) as session:
        rows = session.exec(
            select(Request.id).where(col(Request.closed_at).is_not(None), col(Request.closed_at) <= cutoff)
        ).all()
        return list(rows)


def delete_expired_packages(settings: Settings, *, now: datetime | None = None) -> list[str]:
    """Delete sealed packages issued more than the delivery window ago; returns their request ids."""
    cutoff = (now or utcnow()) - timedelta(days=settings.access.delivery_window_days)
    removed: list[tuple[str, str, str | None]] = []
    with session_scope(settings.database.url) as session:
        rows = session.exec(select(Request).where(col(Request.report_path).is_not(None))).all()
        for request in rows:
            path = Path(request.report_path or "")
            issued = request.closed_at or request.updated_at
            if issued > cutoff or not path.name.endswith(".zip.enc"):
                continue
            path.unlink(missing_ok=True)
            request.report_path = None
            session.add(request)
            cases.record_event(
                session, "access.package_deleted", request_id=request.id, package_sha256=request.package_sha256
            )
            removed.append((request.id, path.name, request.package_sha256))
    # Signed entries: a certificate stops listing a package as retained once its deletion is in the ledger.
    for request_id, name, digest in removed:
        record_package_deleted(settings, request_id, name=name, manifest_sha256=digest)
    return [request_id for request_id, _name, _digest in removed]


def closed_request_run_names(settings: Settings, *, now: datetime | None = None) -> list[str]:
    """Flow run names of requests closed longer than `[prefect].flow_run_retention_days`."""
    return [name for rid in closed_request_ids(settings, now=now or utcnow()) for name in request_run_names(rid)]


def pseudonymise(settings: Settings, *, now: datetime | None = None) -> list[str]:
    """Drop identifier values of requests closed longer than the record-keeping period (keyed hashes stay)."""
    with session_scope(settings.database.url) as session:
        return cases.pseudonymise_closed_requests(session, settings, now=now)
