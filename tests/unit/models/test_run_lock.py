"""The request run lock (SQLite and PostgreSQL): one run of a request at a time, released however its holder
ends (`kill -9` included); a closed request is never run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from models import cases
from models.db import session_scope
from models.errors import RequestBusyError, RequestClosedError, RequestNotFoundError
from models.identifiers import validate_identifier
from models.run_lock import hold_for_run, run_in_progress, run_lock
from models.settings import Settings
from models.tables import Request
from models.types import IdentifierKind, RequestKind, RequestStatus

pytestmark = pytest.mark.timeout(120)

HOLDER = """
import sys
from models.run_lock import run_lock
with run_lock(sys.argv[1], sys.argv[2]):
    print("held", flush=True)
    sys.stdin.read()
"""


def _submit(url: str) -> str:
    with session_scope(url) as session:
        return cases.submit_request(
            session,
            Settings(),
            kind=RequestKind.ERASURE,
            identifiers=[validate_identifier(IdentifierKind.EMAIL, "zoe.angstrom@example.invalid")],
            hmac_key=b"k" * 32,
            master_key=b"m" * 32,
            received_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        ).id


@contextmanager
def _held_elsewhere(url: str, request_id: str) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the lock (it has said so before this yields)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url, request_id],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_the_probe_sees_a_run_in_another_process_and_never_keeps_the_lock(database_url: str) -> None:
    """`run_in_progress` (what a scan child on another worker asks) is true while another process or this
    thread holds the lock, false otherwise, and a probe that found it free has given it back."""
    rid = _submit(database_url)
    assert not run_in_progress(database_url, rid)
    with run_lock(database_url, rid):  # free again after the probe
        assert run_in_progress(database_url, rid)
    with _held_elsewhere(database_url, rid) as holder:
        assert run_in_progress(database_url, rid)
        holder.kill()
        holder.wait()
    assert not run_in_progress(database_url, rid)


def test_a_second_process_is_refused_while_the_first_holds_the_lock(database_url: str) -> None:
    """Another process holds the run: this one is refused at once, with the request id and what to do."""
    rid = _submit(database_url)
    with (
        _held_elsewhere(database_url, rid),
        pytest.raises(RequestBusyError, match=f"{rid} is being run"),
        run_lock(database_url, rid),
    ):
        pytest.fail("two holders of one request's run lock")


def test_kill_9_of_the_holder_releases_the_lock(database_url: str) -> None:
    """The holder killed with SIGKILL: the database (or the kernel) drops the lock; the next run gets it."""
    rid = _submit(database_url)
    with _held_elsewhere(database_url, rid) as holder:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    with run_lock(database_url, rid):
        pass


def test_another_thread_is_refused_and_the_holder_may_re_enter(database_url: str) -> None:
    """Re-entrant for the thread that holds it (the CLI, then the flow it runs); refused for any other thread."""
    rid = _submit(database_url)
    refused: list[BaseException] = []

    def other() -> None:
        try:
            with run_lock(database_url, rid):
                pass
        except RequestBusyError as exc:
            refused.append(exc)

    with run_lock(database_url, rid), run_lock(database_url, rid):
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert len(refused) == 1
    with run_lock(database_url, rid):  # released once the outermost hold ends
        pass


def test_other_requests_are_not_blocked(database_url: str) -> None:
    """The lock is per request: two requests run side by side."""
    first, second = _submit(database_url), _submit(database_url)
    with _held_elsewhere(database_url, first), run_lock(database_url, second):
        pass


@pytest.mark.parametrize("status", ["completed", "refused", "withdrawn"])
def test_a_closed_request_is_never_run(database_url: str, status: str) -> None:
    """A closed request is refused before and under the lock, naming its status."""
    rid = _submit(database_url)
    with session_scope(database_url) as session:
        session.execute(update(Request).where(Request.id == rid).values(status=status))  # type: ignore[arg-type]
    with pytest.raises(RequestClosedError, match=f"{rid} is {status}"), hold_for_run(database_url, rid):
        pytest.fail("a closed request was run")


def test_an_open_request_is_held_and_an_unknown_one_is_named(database_url: str) -> None:
    """Open statuses are run; an unknown id is the usual not-found error."""
    rid = _submit(database_url)
    with hold_for_run(database_url, rid), session_scope(database_url) as session:
        assert cases.get_request(session, rid).status == RequestStatus.IDENTITY_PENDING.value  # a new request
    with pytest.raises(RequestNotFoundError), hold_for_run(database_url, "DSR-2026-9999"):
        pass
