"""Work in a forked child: its result comes back, a failed child is never trusted, and the child never runs the
parent's own code past the fork (its `finally` blocks, its exit handlers) nor writes to the terminal."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services import forked

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the child is forked on Linux only")


def test_the_result_is_the_childs() -> None:
    parent = os.getpid()
    job = forked.start(lambda: (os.getpid(), [1, "two", {"three": 3.0}]))
    assert job.in_child
    pid, value = job.result()
    assert pid != parent
    assert value == [1, "two", {"three": 3.0}]


def test_the_child_goes_no_further_than_its_work(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """Whatever the work does, the child leaves through `os._exit`: it never returns into the caller's code (here:
    the line after `start` and the `finally` block), and prints nothing, not even a traceback."""
    after = tmp_path / "after"

    def fails_in_child() -> int:
        if os.getpid() != parent:
            raise RuntimeError("in the child")
        return 7

    parent = os.getpid()
    for work in (lambda: 7, fails_in_child):
        try:
            job = forked.start(work)
            with after.open("a", encoding="utf-8") as out:
                out.write(f"{os.getpid()}\n")
        finally:
            with after.open("a", encoding="utf-8") as out:
                out.write(f"{os.getpid()}\n")
        assert job.result() == 7
    assert after.read_text(encoding="utf-8").split() == [str(parent)] * 4
    assert capfd.readouterr() == ("", "")


@pytest.mark.parametrize("how", ["raises", "killed", "exits", "garbled"])
def test_a_child_that_fails_is_not_trusted_the_work_runs_here(how: str) -> None:
    """A child that raises, is killed, exits without a result or sends what cannot be read: its work is done
    again in this process (whose result is this process's own)."""
    parent = os.getpid()

    def work() -> str:
        if os.getpid() != parent:
            if how == "raises":
                raise ValueError("child")
            if how == "killed":
                os.kill(os.getpid(), signal.SIGKILL)
            if how == "exits":
                os._exit(0)
            ghost = type("Ghost", (), {"__module__": __name__})  # a class only the child has: sent, not readable
            globals()["Ghost"] = ghost
            return ghost()
        return "from here"

    job = forked.start(work)
    assert job.in_child
    assert job.result() == "from here"
    assert "Ghost" not in globals()


def test_an_error_of_the_work_is_raised_here() -> None:
    """Work that fails in the child fails again here, with this process's own exception."""

    def work() -> None:
        raise KeyError("no such file")

    job = forked.start(work)
    with pytest.raises(KeyError, match="no such file"):
        job.result()


def test_without_fork_the_work_runs_here(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse() -> int:
        raise OSError("fork refused")

    monkeypatch.setattr(os, "fork", refuse)
    job = forked.start(os.getpid)
    assert not job.in_child
    assert job.result() == os.getpid()
    monkeypatch.setattr(sys, "platform", "win32")
    job = forked.start(os.getpid)
    assert not job.in_child
    assert job.result() == os.getpid()


def test_cancel_ends_the_child_at_once_and_reaps_it() -> None:
    job = forked.start(lambda: time.sleep(60))
    pid = job._pid
    assert pid is not None
    started = time.monotonic()
    job.cancel()
    assert time.monotonic() - started < 10
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped: no zombie is left
    job.cancel()  # twice is harmless


def test_the_child_logs_nothing() -> None:
    """Nothing the child does reaches a log handler (Prefect's included): logging is off in it."""
    job = forked.start(lambda: logging.root.manager.disable)
    assert job.result() == logging.CRITICAL
    assert logging.root.manager.disable < logging.CRITICAL


def test_a_child_ends_with_its_parent(tmp_path: Path) -> None:
    """A run killed while a copy works leaves no copy behind: the kernel ends it with its parent."""
    script = (
        "import os, sys, time\n"
        "from services import forked\n"
        "job = forked.start(lambda: time.sleep(120))\n"
        "print(job._pid, flush=True)\n"
        "os._exit(0)\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[3]
    ) as parent:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())  # not read to its end: the copy holds the same pipe
        assert parent.wait(timeout=30) == 0
    deadline = time.monotonic() + 10
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(pid)


def _running(pid: int) -> bool:
    """Whether the process exists and is not a zombie waiting for a reaper."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def test_a_child_that_never_ends_is_ended_and_its_work_done_here() -> None:
    parent = os.getpid()

    def work() -> str:
        if os.getpid() != parent:
            time.sleep(120)  # as a copy stuck on a lock another thread held at the fork would
        return "from here"

    job = forked.start(work)
    pid = job._pid
    assert pid is not None
    started = time.monotonic()
    assert job.result(patience=0.5) == "from here"
    assert time.monotonic() - started < 10
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_the_child_has_default_signal_handlers_and_no_terminal() -> None:
    """The parent's handlers (Prefect installs its own) are not run by the copy, no signal is left blocked in
    either process, and the copy's standard streams lead nowhere."""
    previous = signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        job = forked.start(
            lambda: (
                signal.getsignal(signal.SIGTERM) == signal.SIG_DFL,
                signal.getsignal(signal.SIGINT) == signal.SIG_DFL,
                signal.pthread_sigmask(signal.SIG_BLOCK, []),
                [os.readlink(f"/proc/self/fd/{fd}") for fd in (0, 1, 2)],
            )
        )
        term, interrupt, blocked, streams = job.result()
        assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == set()
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert term and interrupt
    assert blocked == set()
    assert streams == [os.devnull] * 3


def test_interrupts_are_blocked_from_before_the_fork(monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGINT and SIGTERM are blocked when the process forks (a signal then would make the new copy run the
    parent's handler, with the parent's code after it) and are no longer blocked in either process afterwards."""
    at_fork: list[set[signal.Signals]] = []
    fork = os.fork

    def forking() -> int:
        at_fork.append(signal.pthread_sigmask(signal.SIG_BLOCK, []))
        return fork()

    monkeypatch.setattr(forked.os, "fork", forking)
    job = forked.start(lambda: signal.pthread_sigmask(signal.SIG_BLOCK, []))
    assert job.result() == set()
    assert at_fork and {signal.SIGINT, signal.SIGTERM} <= at_fork[0]
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == set()
