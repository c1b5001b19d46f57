"""One request's scans spread over several workers (`[access].scan_deployment`): when a child run may scan, and
the parent's check that every location its children report as read has its copy where the package is built.

The parent access run holds the request's run lock for its whole run and, before it submits its children,
writes its own run id into the request's staging directory (`RUN_MARKER`). A child scans a location only
while all of these hold, checked before each location:

- the request is open;
- some run holds the request's run lock (its parent; the child never takes the lock, it only probes it);
- the staging directory it sees holds the marker of the run that started it.

So a child never scans for a request nobody is running, for a closed request, or for a parent that has ended
(the parent removes the marker when it stops waiting, and a later run writes its own), and a child on a worker
that does not see the shared staging directory refuses before it reads anything: its copies would land on a
disk the parent never reads. After its children end, the parent puts back to pending, with a reason, every
location the case database says was read but whose staged copy it cannot find (`reopen_unstaged`): such a
location is never reported as scanned. Plain Python, no Prefect.
"""

from __future__ import annotations

from pathlib import Path

from sqlmodel import col, delete, select

from models import cases
from models.db import session_scope
from models.errors import DsrError
from models.files import atomic_write
from models.run_lock import check_open, run_in_progress
from models.settings import Settings
from models.tables import Finding as FindingRow
from models.tables import LocationScan
from models.types import LocationStatus
from services.fanout import DISCOVERY
from services.staging import staged_file, staging_dir

#: The file in a request's staging directory that names the run whose children may scan (a Prefect run id).
RUN_MARKER = ".scan-run"
UNSTAGED_REASON = (
    "scanned by a child run on another worker, but its copy is not in this run's staging directory "
    "([access].package_dir must be storage every worker reaches); scanned again by the next run"
)


class ScanRefusedError(DsrError):
    """A child scan run that must not scan (its message names the request and why, never data)."""


def _marker(settings: Settings, request_id: str) -> Path:
    """The marker's path, without creating the staging directory (a child must not create it)."""
    return settings.access.package_dir / "staging" / request_id / RUN_MARKER


def open_remote_scans(settings: Settings, request_id: str, run: str) -> None:
    """Let the children of run `run` scan: write its id into the request's staging directory."""
    atomic_write(staging_dir(settings, request_id) / RUN_MARKER, run.encode("ascii"))


def close_remote_scans(settings: Settings, request_id: str) -> None:
    """The parent stops waiting: no child of it may start another location."""
    _marker(settings, request_id).unlink(missing_ok=True)


def refusal(settings: Settings, request_id: str, parent_run: str | None) -> str | None:
    """Why a child started by `parent_run` must not scan a location of the request now (one line), or None."""
    if not parent_run:
        return f"{request_id}: a scan child runs only when an access run of the request started it"
    with session_scope(settings.database.url) as session:
        try:
            check_open(cases.get_request(session, request_id))
        except DsrError as exc:
            return str(exc)
    if not run_in_progress(settings.database.url, request_id):
        return f"{request_id}: no access run of the request is in progress (its parent has ended); nothing scanned"
    try:
        current = _marker(settings, request_id).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return (
            f"{request_id}: this worker does not see the request's staging directory under [access].package_dir; "
            "it must be storage every worker reaches (nothing scanned)"
        )
    if current != parent_run:
        return f"{request_id}: the run that started this child is no longer the request's run; nothing scanned"
    return None


def reopen_unstaged(settings: Settings, request_id: str) -> list[str]:
    """Put back to pending every location read (per the case database) whose staged copy is missing here;
    returns their names. Their finding rows go too: a later scan records them again."""
    root = staging_dir(settings, request_id)
    reopened: list[str] = []
    with session_scope(settings.database.url) as session:
        scans = session.exec(
            select(LocationScan).where(LocationScan.request_id == request_id, LocationScan.phase == DISCOVERY)
        ).all()
        for scan in scans:
            if not LocationStatus(scan.status).was_read or staged_file(root, scan.location).is_file():
                continue
            scan.status, scan.reason, scan.completed_at = LocationStatus.PENDING.value, UNSTAGED_REASON, None
            scan.findings = scan.artifacts = scan.bytes_scanned = 0
            session.add(scan)
            session.exec(
                delete(FindingRow).where(
                    col(FindingRow.request_id) == request_id, col(FindingRow.location) == scan.location
                )
            )
            cases.record_event(
                session, "access.location_unstaged", request_id=request_id, location=scan.location, outcome="pending"
            )
            reopened.append(scan.location)
    return reopened
