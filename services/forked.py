"""Work done by a forked copy of this process while this one goes on: the second core of a package's assembly.

`start(work)` forks on Linux. The child inherits everything `work` needs in memory (the finder, the matcher,
the classifier and its memory: nothing is pickled on the way in); `work` may read files and write files of its
own that the parent reads afterwards (a spool part, sealed like the spool). The child runs `work()`, sends the
result back pickled through a pipe and ends with `os._exit`. It never runs this process's exit handlers,
finalisers or `finally` blocks: those would, for one, delete the request's staging. Its standard streams go to
/dev/null and it logs and warns nothing, so nothing it does reaches the terminal or Prefect. SIGINT and SIGTERM
are blocked from before the fork until the child has its own default handlers, so no signal makes it run the
caller's code; the kernel ends it when the thread that forked it ends (here: with the parent's work).

`Forked.result()` waits for the child and returns what it sent. A child that did not finish cleanly (an
exception, a signal, a result it could not send) is not trusted for any part of its work: `result()` then runs
`work()` here, so the work is done once whatever happens, and an error it raises is this process's own, as it
would be without the fork. A child still running long after the parent has done its own share (`patience`) is
ended and its work done here too: a copy of a process that has threads could in principle wait forever on a
lock another thread held at the fork. Where there is no fork (not Linux), or the fork itself fails, `result()`
runs `work()` here (a pipe that cannot be made raises `OSError` from `start`). `cancel()` ends a child whose
result is no longer wanted.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import os
import pickle
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any, Generic, TypeVar

_T = TypeVar("_T")

#: Exit code of a child that sent its result.
_SENT = 0
#: How long `result` waits for a child: at least this, and at least twice as long as the child has run so far.
MIN_PATIENCE_S = 60.0
_BLOCKED = {signal.SIGINT, signal.SIGTERM}


class Forked(Generic[_T]):
    """One piece of work, running in a forked child (or, without one, to be run by `result`)."""

    def __init__(self, work: Callable[[], _T], pid: int | None, read_end: int | None) -> None:
        self._work = work
        self._pid = pid
        self._read_end = read_end
        self._started = time.monotonic()
        self._message = bytearray()
        self._reader: threading.Thread | None = None
        if read_end is not None:  # drained as the child writes: a long result never blocks it
            self._reader = threading.Thread(target=self._drain, args=(read_end,), name="forked-result", daemon=True)
            self._reader.start()

    def _drain(self, read_end: int) -> None:
        try:
            while chunk := os.read(read_end, 1 << 20):
                self._message += chunk
        except OSError:
            self._message = bytearray()

    @property
    def in_child(self) -> bool:
        """Whether a child was started for the work (False: `result` runs it here)."""
        return self._pid is not None

    def result(self, instead: Callable[[], _T] | None = None, patience: float | None = None) -> _T:
        """The work's result: the child's when it finished cleanly, else the work run here (errors included), or
        `instead` when given (the same work on what has changed since, e.g. files since moved). A child is given
        `patience` seconds more (default: `MIN_PATIENCE_S`, or twice its time so far if longer), then ended."""
        if patience is None:
            patience = max(MIN_PATIENCE_S, 2 * (time.monotonic() - self._started))
        sent = self._collect(time.monotonic() + patience)
        if sent is not None:
            return sent[0]
        return (instead or self._work)()

    def cancel(self) -> None:
        """End the child, if one is still running, and forget it (and anything it sent)."""
        self._collect(time.monotonic(), keep=False)

    def _collect(self, deadline: float, *, keep: bool = True) -> tuple[_T] | None:
        """Wait for the child until `deadline` (then end it), reap it and read its message; (the result,) when it
        finished cleanly and the result is wanted (`keep`). Whatever interrupts the wait, the child is ended and
        reaped before it goes on."""
        pid, read_end, reader = self._pid, self._read_end, self._reader
        if pid is None or read_end is None or reader is None:
            return None
        self._pid = self._read_end = self._reader = None
        try:
            status = _wait(pid, deadline)
        except BaseException:
            _end(pid)
            raise
        finally:
            reader.join()  # the child has ended: its end of the pipe is closed, the reader has read all
            os.close(read_end)
        message, self._message = self._message, bytearray()
        if not keep or status is None or os.waitstatus_to_exitcode(status) != _SENT or not message:
            return None
        try:
            return (pickle.loads(message),)  # noqa: S301 - our own child's result, through our own pipe
        except Exception:  # noqa: BLE001 - a message cut short or garbled: the work is run here instead
            return None


def _wait(pid: int, deadline: float) -> int | None:
    """The child's wait status once it ends; None when it was still running at `deadline` (it is then ended) or
    was reaped elsewhere."""
    delay = 0.001
    while True:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return None
        if done:
            return status
        if time.monotonic() >= deadline:
            _end(pid)
            return None
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def _end(pid: int) -> None:
    """SIGKILL the child and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def can_fork() -> bool:
    """Whether `start` forks here (Linux); elsewhere the work is done by `Forked.result`, in this process."""
    return sys.platform.startswith("linux")


def start(work: Callable[[], _T]) -> Forked[_T]:
    """Start `work` in a forked child (Linux), or leave it for `Forked.result` to run here (also when the fork
    fails). Whatever interrupts the start, a child already forked is ended and the signal mask and the
    collector are as they were."""
    if not can_fork():
        return Forked(work, None, None)
    parent = os.getpid()
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])  # as it is: restored however this ends
    read_end, write_end = os.pipe()
    pid = -1
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, _BLOCKED)
        gc.freeze()  # the child's collector then leaves the inherited objects alone (and their pages shared)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Python 3.12+ warns of forking a process that has threads
                pid = os.fork()
        except OSError:
            pid = -1
        if pid == 0:  # the child
            _child(work, parent, read_end, write_end, mask)
    except BaseException:
        if pid > 0:
            _end(pid)
        os.close(read_end)
        raise
    finally:
        if pid != 0:
            gc.unfreeze()
            os.close(write_end)
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    if pid < 0:
        os.close(read_end)
        return Forked(work, None, None)
    return Forked(work, pid, read_end)


def _child(work: Callable[[], object], parent: int, read_end: int, write_end: int, mask: set[Any]) -> None:
    """Run `work` and send its result; always leave through `os._exit`."""
    code = 1
    try:
        for number in _BLOCKED:  # the parent's handlers (Prefect's among them) are not the child's
            signal.signal(number, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        _end_with_parent(parent)
        os.close(read_end)
        _quiet()
        message = pickle.dumps(work(), protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(message)
        while view:
            view = view[os.write(write_end, view) :]
        code = _SENT
    except BaseException:  # noqa: BLE001, S110 - any failure: the parent runs the work itself
        pass
    finally:
        os._exit(code)


def _quiet() -> None:
    """Nothing the child does reaches the terminal, a log or Prefect."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    sys.unraisablehook = lambda _unraisable: None


_PR_SET_PDEATHSIG = 1
try:  # looked up here, in the parent: the child calls it without the dynamic loader's lock
    _PRCTL: Any = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None
except (OSError, AttributeError):
    _PRCTL = None


def _end_with_parent(parent: int) -> None:
    """Ask the kernel for SIGKILL when the parent ends (the run was killed): no copy outlives it. A parent gone
    before the request is noticed here."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)
