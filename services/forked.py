"""Work done by a forked copy of this process while this one goes on: the second core of a package's assembly.

`start(work)` forks on Linux. The child inherits everything `work` reads (the finder, the matcher, the
classifier and its memory: nothing is pickled on the way in), runs `work()`, sends the result back pickled
through a pipe and ends with `os._exit`. It never runs this process's exit handlers, finalisers or `finally`
blocks: those would, for one, delete the request's staging. It logs and warns nothing, so nothing it does
reaches the terminal or Prefect.

`Forked.result()` waits for the child and returns what it sent. A child that did not finish cleanly (an
exception, a signal, a result it could not send) is not trusted for any part of its work: `result()` then runs
`work()` here, so the work is done once whatever happens, and an error it raises is this process's own, as it
would be without the fork. Where there is no fork (not Linux), or the fork itself fails, `result()` runs
`work()` here. `cancel()` ends a child whose result is no longer wanted.

`work` must only read what it inherits, and write nothing that this process reads: the two copies do not share
memory after the fork.
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
import warnings
from collections.abc import Callable
from typing import Generic, TypeVar

_T = TypeVar("_T")

#: Exit code of a child that sent its result.
_SENT = 0


class Forked(Generic[_T]):
    """One piece of work, running in a forked child (or, without one, to be run by `result`)."""

    def __init__(self, work: Callable[[], _T], pid: int | None, read_end: int | None) -> None:
        self._work = work
        self._pid = pid
        self._read_end = read_end
        self._chunks: list[bytes] = []
        self._reader: threading.Thread | None = None
        if read_end is not None:  # drained as the child writes: a long result never blocks it
            self._reader = threading.Thread(target=self._drain, args=(read_end,), name="forked-result", daemon=True)
            self._reader.start()

    def _drain(self, read_end: int) -> None:
        try:
            while chunk := os.read(read_end, 1 << 20):
                self._chunks.append(chunk)
        except OSError:
            self._chunks = []

    @property
    def in_child(self) -> bool:
        """Whether a child was started for the work (False: `result` runs it here)."""
        return self._pid is not None

    def result(self, instead: Callable[[], _T] | None = None) -> _T:
        """The work's result: the child's when it finished cleanly, else the work run here (errors included), or
        `instead` when given (the same work on what has changed since, e.g. files since moved)."""
        sent = self._collect()
        if sent is not None:
            return sent[0]
        return (instead or self._work)()

    def cancel(self) -> None:
        """End the child, if one is still running, and forget it."""
        if self._pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)
        self._collect()

    def _collect(self) -> tuple[_T] | None:
        """Read the child's message to its end and reap it; (the result,) when it finished cleanly."""
        pid, read_end, reader = self._pid, self._read_end, self._reader
        self._pid = self._read_end = self._reader = None
        if pid is None or read_end is None or reader is None:
            return None
        _, status = os.waitpid(pid, 0)
        reader.join()  # the child has ended: its end of the pipe is closed, the reader has read all
        os.close(read_end)
        chunks, self._chunks = self._chunks, []
        if os.waitstatus_to_exitcode(status) != _SENT or not chunks:
            return None
        message = b"".join(chunks)
        del chunks
        try:
            return (pickle.loads(message),)  # noqa: S301 - our own child's result, through our own pipe
        except Exception:  # noqa: BLE001 - a message cut short or garbled: the work is run here instead
            return None


def can_fork() -> bool:
    """Whether `start` forks here (Linux); elsewhere the work is done by `Forked.result`, in this process."""
    return sys.platform.startswith("linux")


def start(work: Callable[[], _T]) -> Forked[_T]:
    """Start `work` in a forked child (Linux), or leave it for `Forked.result` to run here."""
    if not can_fork():
        return Forked(work, None, None)
    read_end, write_end = os.pipe()
    gc.freeze()  # the child's collector then leaves the inherited objects alone (and their pages shared)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Python 3.12+ warns of forking a process that has threads
            pid = os.fork()
    except OSError:
        gc.unfreeze()
        os.close(read_end)
        os.close(write_end)
        return Forked(work, None, None)
    if pid == 0:  # the child
        _child(work, read_end, write_end)
    gc.unfreeze()
    os.close(write_end)
    return Forked(work, pid, read_end)


def _child(work: Callable[[], object], read_end: int, write_end: int) -> None:
    """Run `work` and send its result; always leave through `os._exit`."""
    code = 1
    try:
        os.close(read_end)
        _end_with_parent()
        logging.disable(logging.CRITICAL)
        warnings.simplefilter("ignore")
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C ends the child at once, without a traceback
        message = pickle.dumps(work(), protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(message)
        while view:
            view = view[os.write(write_end, view) :]
        code = _SENT
    except BaseException:  # noqa: BLE001, S110 - any failure: the parent runs the work itself
        pass
    finally:
        os._exit(code)


_PR_SET_PDEATHSIG = 1


def _end_with_parent() -> None:
    """Ask the kernel for SIGKILL when the parent ends (the run was killed): no copy outlives it."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
