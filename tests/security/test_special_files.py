"""FIFOs, sockets and device files on a `file://` laptop: never opened (no hang, no endless read), all reported."""

from __future__ import annotations

import contextlib
import os
import socket
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from erasure.executor import ActionStatus
from erasure.plan import ActionKind
from tests.security.hostile import PROJECT, Laptop, assert_contained, run_pipeline

pytestmark = pytest.mark.timeout(60)


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _socket(path: Path) -> None:
    cwd = os.getcwd()
    os.chdir(path.parent)  # AF_UNIX paths are limited to ~108 bytes: bind by relative name
    try:
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(path.name)
        sock.close()
    finally:
        os.chdir(cwd)


def _device(major: int, minor: int, kind: int) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        try:
            os.mknod(path, kind | 0o644, os.makedev(major, minor))
        except PermissionError:
            pytest.skip("mknod needs CAP_MKNOD")

    return make


MAKERS: dict[str, Callable[[Path], None]] = {
    "fifo": _fifo,
    "unix_socket": _socket,
    "char_device_zero": _device(1, 5, stat.S_IFCHR),
    "char_device_urandom": _device(1, 9, stat.S_IFCHR),
    "block_device_loop": _device(7, 0, stat.S_IFBLK),
}


@pytest.mark.parametrize("maker", list(MAKERS.values()), ids=list(MAKERS))
def test_special_file_is_reported_and_never_opened(laptop: Laptop, maker: Callable[[Path], None]) -> None:
    """A special file named like a transcript is `special_file`, recorded as not reached (never an exception)."""
    path = laptop.path(f"{PROJECT}/special.jsonl")
    maker(path)
    before = laptop.outside_snapshot()
    run = run_pipeline(laptop)
    assert_contained(laptop, run, before)
    assert run.reasons()[f"/{PROJECT}/special.jsonl"] == "special_file"
    outcome = run.outcome(f"/{PROJECT}/special.jsonl")
    assert (outcome.kind, outcome.status) == (ActionKind.NOT_REACHED, ActionStatus.NOT_REACHED)
    entry = next(e.record for e in run.ledger.entries() if e.seq == outcome.ledger_seq)
    assert (entry.action, entry.outcome, entry.exception_ground) == ("skip", "not_reached", None)
    assert not stat.S_ISREG(os.lstat(path).st_mode), "left as it was"
    assert run.report.complete


def test_fifo_with_a_writer_waiting_is_not_opened(laptop: Laptop) -> None:
    """Even with a process holding the FIFO's write end, the pipeline neither reads nor blocks on it."""
    path = laptop.path(f"{PROJECT}/busy.jsonl")
    os.mkfifo(path)
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # lets the writer open without blocking
    writer = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    try:
        os.write(writer, b'{"message": "q.vextrabor@mail.invalid"}\n')
        before = laptop.outside_snapshot()
        run = run_pipeline(laptop)
        assert_contained(laptop, run, before)
        assert run.reasons()[f"/{PROJECT}/busy.jsonl"] == "special_file"
        assert os.read(reader, 1 << 10).startswith(b'{"message"'), "nobody else consumed the pipe"
    finally:
        for fd in (writer, reader):
            with contextlib.suppress(OSError):
                os.close(fd)


def test_symlink_to_a_fifo_inside_the_root_is_reported(laptop: Laptop) -> None:
    """A link to a FIFO inside the root is reported as `special_file` (target named), never opened."""
    os.mkfifo(laptop.path(f"{PROJECT}/pipe"))
    os.symlink("pipe", laptop.path(f"{PROJECT}/pipe-link.jsonl"))
    before = laptop.outside_snapshot()
    run = run_pipeline(laptop)
    assert_contained(laptop, run, before)
    assert run.reasons()[f"/{PROJECT}/pipe-link.jsonl"] == "special_file"
