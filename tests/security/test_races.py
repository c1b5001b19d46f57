"""Races a laptop user can cause: files growing while read, files and directories swapped for symlinks
between planning and execution (time of check to time of use). Nothing outside the root is read or written;
the action is refused and reported."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.base import Expected
from erasure.executor import ActionStatus
from erasure.plan import ActionKind, ErasurePlan
from models.errors import VersionConflictError
from tests.security.hostile import (
    CLI,
    HOME,
    PROJECT,
    SUBJECT_EMAIL,
    Laptop,
    assert_contained,
    run_pipeline,
    subject_line,
    transcript,
)

pytestmark = pytest.mark.timeout(60)
REFUSED = (ActionStatus.FAILED, ActionStatus.CONFLICT)
SESSION = "1b1b1b1b-0000-4000-8000-000000000004"


def test_file_growing_during_the_whole_run_neither_hangs_nor_crashes(laptop: Laptop) -> None:
    """A writer appending all the time while the pipeline runs: it ends, and the change is a conflict or done."""
    path = laptop.path(f"{PROJECT}/{CLI}.jsonl")
    stop = threading.Event()
    appended = [0]

    def append() -> None:
        with path.open("ab") as fh:
            while not stop.is_set():
                fh.write(subject_line(appended[0]) * 20)
                fh.flush()
                appended[0] += 1
                time.sleep(0.001)  # an agent writing hard; unthrottled, the file outgrows any disk

    writer = threading.Thread(target=append, daemon=True)
    writer.start()
    try:
        before = laptop.outside_snapshot()
        run = run_pipeline(laptop)
    finally:
        stop.set()
        writer.join(10)
    assert appended[0] > 0
    assert_contained(laptop, run, before)
    outcome = run.outcome(f"/{PROJECT}/{CLI}.jsonl")
    assert outcome.status in (ActionStatus.DONE, ActionStatus.CONFLICT)


def test_reader_stops_at_the_size_the_file_had_when_opened(laptop: Laptop) -> None:
    """Bytes appended after `open` are not read: a writer that never stops cannot keep a reader busy."""
    path = laptop.path(f"{PROJECT}/{CLI}.jsonl")
    size = path.stat().st_size
    with laptop.connector() as conn:
        item = conn.stat(f"/{PROJECT}/{CLI}.jsonl")
        with conn.open(item) as stream, path.open("ab") as writer:
            first = stream.read(10)
            writer.write(b"x" * (5 << 20))
            writer.flush()
            rest = b"".join(iter(lambda: stream.read(1 << 16), b""))
            stream.seek(0)
            again = stream.read()
    assert len(first) + len(rest) == size == len(again)


def _outside_copy(laptop: Laptop, source: Path, name: str) -> Path:
    """A byte-identical copy of `source` outside the root (a naive hash check would accept it)."""
    copy = laptop.outside / name
    shutil.copyfile(source, copy)
    return copy


def _expect_refused(laptop: Laptop, path: str, swap: object) -> None:
    snapshots: list[object] = []

    def between(_plan: ErasurePlan) -> None:
        swap()  # type: ignore[operator]
        snapshots.append(laptop.outside_snapshot())

    run = run_pipeline(laptop, between=between)
    assert_contained(laptop, run, snapshots[0])  # type: ignore[arg-type]
    outcome = run.outcome(path)
    assert outcome.status in REFUSED, outcome
    assert outcome.ledger_seq is None, "no proof entry for an action not done"
    assert not run.report.complete


def test_file_swapped_for_symlink_outside_before_redaction_is_refused(laptop: Laptop) -> None:
    """Planned redaction; the file becomes a link to an identical file outside: refused, the outside file unread."""
    path = laptop.path(f"{PROJECT}/{CLI}.jsonl")

    def swap() -> None:
        copy = _outside_copy(laptop, path, "copy.jsonl")
        path.unlink()
        os.symlink(copy, path)

    _expect_refused(laptop, f"/{PROJECT}/{CLI}.jsonl", swap)
    assert SUBJECT_EMAIL.encode() in (laptop.outside / "copy.jsonl").read_bytes()


def test_file_swapped_for_symlink_to_etc_before_redaction_is_refused(laptop: Laptop) -> None:
    """Planned redaction; the file becomes a link to /etc/hostname: refused, /etc untouched (the guard checks it)."""
    path = laptop.path(f"{PROJECT}/{CLI}.jsonl")

    def swap() -> None:
        path.unlink()
        os.symlink("/etc/hostname", path)

    _expect_refused(laptop, f"/{PROJECT}/{CLI}.jsonl", swap)


def test_file_swapped_for_symlink_before_deletion_is_refused(laptop: Laptop) -> None:
    """Planned whole-file deletion of an unredactable file; swapped for a link outside: refused, nothing unlinked."""
    pdf = laptop.write(f"{HOME}/Claude/cv.pdf", b"%PDF-1.4 " + SUBJECT_EMAIL.encode())

    def swap() -> None:
        copy = _outside_copy(laptop, pdf, "cv.pdf")
        pdf.unlink()
        os.symlink(copy, pdf)

    _expect_refused(laptop, f"/{HOME}/Claude/cv.pdf", swap)
    assert pdf.is_symlink() and (laptop.outside / "cv.pdf").exists()


def test_directory_swapped_for_symlink_before_redaction_is_refused(laptop: Laptop) -> None:
    """The project directory is moved out of the root and replaced by a link to it: the redaction is refused."""
    project = laptop.path(PROJECT)

    def swap() -> None:
        moved = laptop.outside / "moved-project"
        project.rename(moved)
        os.symlink(moved, project)

    _expect_refused(laptop, f"/{PROJECT}/{CLI}.jsonl", swap)
    assert SUBJECT_EMAIL.encode() in (laptop.outside / "moved-project" / f"{CLI}.jsonl").read_bytes()


def test_session_directory_swapped_for_symlink_before_session_deletion_is_refused(laptop: Laptop) -> None:
    """A whole-session deletion whose session directory became a link out of the root removes nothing outside."""
    record = laptop.write(f"{PROJECT}/{SESSION}.jsonl", transcript(4, 0))
    laptop.write(f"{PROJECT}/{SESSION}/subagents/agent-1.jsonl", transcript(1, 1))
    directory = laptop.path(f"{PROJECT}/{SESSION}")

    def swap() -> None:
        moved = laptop.outside / "session-dir"
        directory.rename(moved)
        os.symlink(moved, directory)

    _expect_refused(laptop, f"/{PROJECT}/{SESSION}.jsonl", swap)
    assert (laptop.outside / "session-dir" / "subagents" / "agent-1.jsonl").exists()
    assert record.exists(), "nothing of a refused session is deleted"


def test_plan_has_the_session_deletion_the_swap_test_relies_on(laptop: Laptop) -> None:
    """Sanity for the swap test: without a swap the session and its directory are deleted."""
    laptop.write(f"{PROJECT}/{SESSION}.jsonl", transcript(4, 0))
    laptop.write(f"{PROJECT}/{SESSION}/subagents/agent-1.jsonl", transcript(1, 1))
    run = run_pipeline(laptop)
    outcome = run.outcome(f"/{PROJECT}/{SESSION}.jsonl")
    assert (outcome.kind, outcome.status) == (ActionKind.DELETE_SESSION, ActionStatus.DONE)
    assert not laptop.path(f"{PROJECT}/{SESSION}").exists()


def test_file_swapped_for_fifo_before_redaction_is_refused_without_blocking(laptop: Laptop) -> None:
    """Planned redaction; the file becomes a FIFO: refused at once (no blocking open)."""
    path = laptop.path(f"{PROJECT}/{CLI}.jsonl")

    def swap() -> None:
        path.unlink()
        os.mkfifo(path)

    _expect_refused(laptop, f"/{PROJECT}/{CLI}.jsonl", swap)


def test_parent_directory_swapped_for_symlink_inside_the_root_stays_inside(laptop: Laptop) -> None:
    """A directory replaced by a link to another directory inside the root: whatever happens stays in the root."""
    project = laptop.path(PROJECT)

    def swap() -> None:
        other = laptop.path(f"{HOME}/elsewhere")
        project.rename(other)
        os.symlink(other, project)

    snapshots: list[object] = []

    def between(_plan: ErasurePlan) -> None:
        swap()
        snapshots.append(laptop.outside_snapshot())

    run = run_pipeline(laptop, between=between)
    assert_contained(laptop, run, snapshots[0])  # type: ignore[arg-type]
    assert Path(os.readlink(project)) == laptop.path(f"{HOME}/elsewhere")
    assert run.outcome(f"/{PROJECT}/{CLI}.jsonl").status in (ActionStatus.DONE, *REFUSED)
    assert os.path.exists(os.path.dirname(project))


def test_file_swapped_for_symlink_during_the_write_is_refused(laptop: Laptop) -> None:
    """The swap lands while the new content is being written: the re-check before the rename refuses it."""
    laptop_path = f"/{PROJECT}/{CLI}.jsonl"
    path = laptop.path(laptop_path)
    outside = laptop.outside / "copy.jsonl"
    outside.write_bytes(path.read_bytes())
    before = laptop.outside_snapshot()

    def chunks() -> Iterator[bytes]:
        yield b"new content\n"
        path.unlink()
        os.symlink(outside, path)
        yield b"more\n"

    with laptop.connector() as conn:
        item = conn.stat(laptop_path)
        with pytest.raises(VersionConflictError):
            conn.replace(item, chunks(), Expected(item.size, item.version))
    assert laptop.outside_snapshot() == before
    assert path.is_symlink()
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".dsr-tmp-")], "no temp file left"
