"""The guard the hostile-input tests rely on really sees escapes and process spawns (so those tests can fail)."""

from __future__ import annotations

import contextlib
import os
import subprocess

from tests.security.hostile import PROJECT, Laptop, guard


def test_guard_sees_a_read_through_a_symlink_out_of_the_root(laptop: Laptop) -> None:
    """Opening a path under the root that resolves outside is recorded; with O_NOFOLLOW it is not."""
    link = laptop.path(f"{PROJECT}/out.jsonl")
    os.symlink(laptop.outside / "home" / "bob" / ".claude" / "history.jsonl", link)
    with guard(laptop) as watcher, open(link, "rb") as fh:
        fh.read(1)
    assert watcher.events and watcher.events[0][0] == "open"
    with guard(laptop) as quiet, contextlib.suppress(OSError):
        os.close(os.open(link, os.O_RDONLY | os.O_NOFOLLOW))
    assert quiet.events == []


def test_guard_sees_listing_and_writing_outside(laptop: Laptop) -> None:
    """Listing the other user's home and creating a file there are both recorded."""
    with guard(laptop) as watcher:
        os.listdir(laptop.outside)
        os.mkdir(laptop.outside / "new")
    assert {event for event, _ in watcher.events} == {"os.listdir", "os.mkdir"}


def test_guard_sees_process_spawns(laptop: Laptop) -> None:
    """Any process start (subprocess, os.system) inside the guard is recorded."""
    with guard(laptop) as watcher:
        subprocess.run(["true"], check=True)
        os.system("true")  # noqa: S605 - constant command: proves the guard sees os.system
    assert {event for event, _ in watcher.spawns} >= {"subprocess.Popen", "os.system"}


def test_guard_is_quiet_inside_the_root(laptop: Laptop) -> None:
    """Reading, listing and writing inside the root is not an escape."""
    with guard(laptop) as watcher:
        os.listdir(laptop.path(PROJECT))
        (laptop.path(PROJECT) / "x.txt").write_bytes(b"x")
    assert watcher.events == [] and watcher.spawns == []
