"""What a fan-out over many locations shares and counts: the request's scan context, batches of locations,
and cheap progress counts.

A fleet of hundreds of laptops makes every per-location cost count: the subject's matcher and the request
key are built once per process and run (`ScanContext`) instead of once per location, small laptops can be
scanned several to a task (`batches`), and progress is counted in the database (`location_counts`) rather
than by loading every location's row. Plain Python: the flows and the CLI call these.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import col, select

from detection.matcher import Matcher
from models import cases
from models.db import session_scope
from models.errors import DsrError
from models.settings import Settings
from models.tables import LocationScan, Request
from models.types import LocationStatus
from services.subject import build_matcher, request_key

DISCOVERY = "discovery"


@dataclass(frozen=True, slots=True)
class ScanContext:
    """What every location's scan of one request needs and nothing else: the subject's matcher and the
    request's data key (both personal: they stay in this process's memory, never in a parameter)."""

    request_id: str
    matcher: Matcher
    key: bytes


def scan_context(settings: Settings, request_id: str) -> ScanContext:
    """Build the request's scan context (one read of the case database, one matcher compilation).

    Raises:
        InputError: the request has no identifiers left.
        RequestNotFoundError: no such request (or its key was destroyed).
    """
    return ScanContext(request_id, build_matcher(settings, request_id), request_key(settings, request_id))


_SHARED: dict[str, tuple[ScanContext, int]] = {}
_SHARED_LOCK = threading.Lock()


@contextmanager
def shared_scan_context(settings: Settings, request_id: str) -> Iterator[ScanContext | None]:
    """Make the request's scan context available to `current_scan_context` in this process for the block.

    A run opens it once around its fan-out; tasks that run in the same process then reuse it. Nested opens
    share one context; it is forgotten when the outermost block ends. When it cannot be built (no identifiers
    left, say) the block gets None and shares nothing: each location's scan then records that failure itself.
    """
    with _SHARED_LOCK:
        held = _SHARED.get(request_id)
    try:
        context = held[0] if held is not None else scan_context(settings, request_id)
    except DsrError:
        yield None
        return
    with _SHARED_LOCK:
        held = _SHARED.get(request_id)
        _SHARED[request_id] = (held[0], held[1] + 1) if held is not None else (context, 1)
        context = _SHARED[request_id][0]
    try:
        yield context
    finally:
        with _SHARED_LOCK:
            context, users = _SHARED[request_id]
            if users > 1:
                _SHARED[request_id] = (context, users - 1)
            else:
                del _SHARED[request_id]


def current_scan_context(request_id: str) -> ScanContext | None:
    """The request's shared scan context in this process, if a run opened one (else None: build your own)."""
    with _SHARED_LOCK:
        held = _SHARED.get(request_id)
    return held[0] if held is not None else None


class _LocalSlots:
    """How many `file://` scans this process runs at the moment, admitted against the limit each one is given
    (the configuration's current `[access].local_scans`: a changed limit holds for the scans that start after)."""

    def __init__(self) -> None:
        self._busy = 0
        self._free = threading.Condition()

    @contextmanager
    def held(self, limit: int) -> Iterator[None]:
        with self._free:
            self._free.wait_for(lambda: self._busy < max(limit, 1))
            self._busy += 1
        try:
            yield
        finally:
            with self._free:
                self._busy -= 1
                self._free.notify_all()


_LOCAL_SLOTS = _LocalSlots()


@contextmanager
def local_scan_slot(settings: Settings, location: str) -> Iterator[None]:
    """Hold one of the process's `[access].local_scans` slots for the block when `location` is a `file://`
    laptop (`reads_here`); any other location (SSH, S3) passes at once.

    A `file://` laptop is read and searched entirely in this process, and its Python runs one thread at a time:
    several such scans at once do the same work taking turns, each turn paid in lock hand-overs and thread
    switches (eight at once took about twice the CPU time of one at a time on 100 simulated laptops). SSH
    laptops are walked on the laptop itself and stores mostly wait on the network, so they keep overlapping.
    The access run submits no more `file://` laptops at once than `[access].local_scans`, so its tasks do not
    wait here in the places of other locations; the slots hold every other caller (a scan child on a worker, a
    batch that mixes kinds) to the same bound.
    """
    if not reads_here(settings, location):
        yield
        return
    with _LOCAL_SLOTS.held(settings.access.local_scans):
        yield


def reads_here(settings: Settings, location: str) -> bool:
    """Whether `location` is a laptop whose files this process reads from its own file system (`file://`)."""
    return any(e.name == location and e.scheme == "file" for e in settings.endpoints)


def batches(locations: Sequence[str], per_task: int) -> list[list[str]]:
    """The locations in order, `per_task` to a batch (the last one shorter)."""
    size = max(1, per_task)
    return [list(locations[i : i + size]) for i in range(0, len(locations), size)]


@dataclass(frozen=True, slots=True)
class LocationCounts:
    """How many of a request's locations are accounted for, and the request's status."""

    done: int
    total: int
    status: str


def location_counts(settings: Settings, request_id: str) -> LocationCounts:
    """Locations accounted for and in all (one grouped count, however large the fleet), and the status.

    Raises:
        RequestNotFoundError: no such request.
    """
    with session_scope(settings.database.url) as session:
        status = session.exec(select(Request.status).where(Request.id == request_id)).first()
        if status is None:
            cases.get_request(session, request_id)  # raises the one-line "no such request" error
        rows = session.exec(
            select(LocationScan.status, func.count())
            .where(col(LocationScan.request_id) == request_id, col(LocationScan.phase) == DISCOVERY)
            .group_by(col(LocationScan.status))
        ).all()
    done = sum(n for s, n in rows if _is_final(s))
    return LocationCounts(done=done, total=sum(n for _, n in rows), status=str(status))


def _is_final(status: str) -> bool:
    try:
        return LocationStatus(status).is_final
    except ValueError:
        return False
