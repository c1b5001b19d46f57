"""One run of a request at a time, and never a run of a closed request.

`hold_for_run` is taken by `dsr request run` before it starts anything and by the request flows themselves
(a served deployment, a worker, the sweep) for the whole run. The lock lives where the case database lives,
and whoever ends a run, however it ends (`kill -9` included), releases it without anyone clearing it by hand:

- PostgreSQL: a session-level advisory lock (`pg_try_advisory_lock`) on a connection kept open for the run;
  the server drops it when the connection closes.
- SQLite: an exclusive `flock` on a per-request lock file in a private directory beside the database file
  (`<database>.run-locks/`); the kernel drops it when the process ends.

A second run is refused at once with `RequestBusyError` (it does not queue behind the first). Within one
process the lock is re-entrant for the thread that holds it (the CLI takes it, then runs the flow in the same
thread); another thread of the same process is refused like another process. Plain Python, no Prefect.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from models import cases
from models.db import get_engine, session_scope
from models.errors import RequestBusyError, RequestClosedError
from models.lifecycle import OPEN_STATUSES
from models.tables import Request
from models.types import RequestStatus

try:  # POSIX; the orchestrator runs on Linux and macOS
    import fcntl
except ImportError:  # pragma: no cover - Windows: the in-process registry is the only guard
    fcntl = None  # type: ignore[assignment]

#: First key of the two-key advisory lock: marks the locks this product takes ("dsr" in ASCII).
ADVISORY_NAMESPACE = 0x647372
_SAFE_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")


@dataclass
class _Held:
    owner: int
    count: int
    release: Callable[[], None]


_registry: dict[tuple[str, str], _Held] = {}
_registry_lock = threading.Lock()


def busy_message(request_id: str) -> str:
    """The one line a refused second run prints."""
    return (
        f"request {request_id} is being run by another process right now; wait for that run to end "
        f"(`dsr request show {request_id}` shows where it stands), then run it again if it is still open"
    )


def check_open(request: Request) -> None:
    """Refuse to run a closed request (completed, refused, withdrawn...): its flow never runs again.

    Raises:
        RequestClosedError: the request is closed (the message names its status).
    """
    if RequestStatus(request.status) not in OPEN_STATUSES:
        raise RequestClosedError(
            f"request {request.id} is {request.status}: it is closed and is not run again (nothing was scanned "
            f"or changed); `dsr request show {request.id}` shows its outcome",
            request_id=request.id,
        )


@contextmanager
def run_lock(url: str, request_id: str) -> Iterator[None]:
    """Hold the request's run lock for the block (re-entrant in the holding thread).

    Raises:
        RequestBusyError: another process, or another thread of this one, holds it.
    """
    key = (url, request_id)
    me = threading.get_ident()
    with _registry_lock:
        held = _registry.get(key)
        if held is not None and held.owner != me:
            raise RequestBusyError(busy_message(request_id), request_id=request_id)
        if held is not None:
            held.count += 1
    if held is None:
        release = _acquire(url, request_id)
        with _registry_lock:
            if key in _registry:  # another thread of this process got in first
                release()
                raise RequestBusyError(busy_message(request_id), request_id=request_id)
            _registry[key] = _Held(owner=me, count=1, release=release)
    try:
        yield
    finally:
        with _registry_lock:
            held = _registry[key]
            held.count -= 1
            last = held.count == 0
            if last:
                del _registry[key]
        if last:
            held.release()


@contextmanager
def hold_for_run(url: str, request_id: str) -> Iterator[None]:
    """The request's run lock, taken only if the request exists and is open (checked again under the lock).

    Raises:
        RequestNotFoundError: no such request.
        RequestClosedError: the request is closed.
        RequestBusyError: another run of the request holds the lock.
    """
    with session_scope(url) as session:
        check_open(cases.get_request(session, request_id))
    with run_lock(url, request_id):
        with session_scope(url) as session:
            check_open(cases.get_request(session, request_id))
        yield


def run_in_progress(url: str, request_id: str) -> bool:
    """Whether a run of the request holds its run lock right now (this thread's own hold counts).

    A probe: the lock is tried and, when free, given back at once. A scan child on another worker uses it to
    scan only while its parent run is alive (the parent holds the lock for its whole run; a child never takes
    it for longer than the probe). While a probe holds it, a run starting at that instant is refused as busy.
    """
    with _registry_lock:
        if (url, request_id) in _registry:
            return True
    try:
        release = _acquire(url, request_id)
    except RequestBusyError:
        return True
    release()
    return False


def _acquire(url: str, request_id: str) -> Callable[[], None]:
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        return _acquire_advisory(url, request_id)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not parsed.query.get("uri") and not database.startswith("file:"):
            return _acquire_file(Path(database), request_id)
    return lambda: None  # an in-memory database lives in this process: the registry above is the lock


def _advisory_key(request_id: str) -> int:
    raw = int.from_bytes(hashlib.sha256(request_id.encode("utf-8")).digest()[:4], "big")
    return raw - (1 << 32) if raw >= (1 << 31) else raw


def _acquire_advisory(url: str, request_id: str) -> Callable[[], None]:
    conn = get_engine(url).connect()
    params = {"ns": ADVISORY_NAMESPACE, "key": _advisory_key(request_id)}
    try:
        got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:ns, :key)"), params).scalar())
        conn.commit()
    except BaseException:
        conn.close()
        raise
    if not got:
        conn.close()
        raise RequestBusyError(busy_message(request_id), request_id=request_id)

    def release() -> None:
        try:
            conn.execute(text("SELECT pg_advisory_unlock(:ns, :key)"), params)
            conn.commit()
        except Exception:  # noqa: BLE001 - a broken connection has dropped the lock already
            conn.invalidate()
        finally:
            conn.close()

    return release


def lock_file(database: Path, request_id: str) -> Path:
    """The lock file of a request on a SQLite case database (a private directory beside the database)."""
    name = request_id if _SAFE_NAME.fullmatch(request_id) else hashlib.sha256(request_id.encode()).hexdigest()
    return database.parent / f"{database.name}.run-locks" / f"{name}.lock"


def _acquire_file(database: Path, request_id: str) -> Callable[[], None]:
    path = lock_file(database, request_id)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0), 0o600)
    if fcntl is None:  # pragma: no cover
        return lambda: os.close(fd)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise RequestBusyError(busy_message(request_id), request_id=request_id) from None
    except BaseException:
        os.close(fd)
        raise

    def release() -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    return release
