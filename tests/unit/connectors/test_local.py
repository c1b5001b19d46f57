"""Local-disk specifics of `LocalConnector` beyond the shared contract (modes, pids, parents, FIFOs)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.base import TEMP_PREFIX, Expected, temp_name
from connectors.local import LocalConnector, is_pid_alive
from models.errors import AccessDeniedError, UnreachableError, VersionConflictError


@pytest.fixture
def root(tmp_path: Path) -> Path:
    laptop = tmp_path / "laptop"
    (laptop / "Users/ana/.claude/sessions").mkdir(parents=True)
    return laptop


def test_replace_keeps_mode_and_mtime(root: Path) -> None:
    """replace keeps the file's permission bits and modification time."""
    target = root / "Users/ana/notes.md"
    target.write_bytes(b"old")
    target.chmod(0o640)
    os.utime(target, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    conn = LocalConnector("l", root)
    item = conn.stat("/Users/ana/notes.md")
    new = conn.replace(item, [b"new content"], Expected(item.size, item.version))
    st = target.stat()
    assert stat.S_IMODE(st.st_mode) == 0o640
    assert st.st_mtime_ns == 1_600_000_000_000_000_000
    assert new.size == 11
    assert not [n for n in os.listdir(target.parent) if n.startswith(TEMP_PREFIX)]


def test_symlinked_parent_out_of_root_refused(root: Path, tmp_path: Path) -> None:
    """stat, open and replace refuse a path whose parent directory is a symlink leading out of the root."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "f.txt").write_bytes(b"x")
    (root / "Users/ana/link").symlink_to(outside)
    conn = LocalConnector("l", root)
    with pytest.raises(AccessDeniedError):
        conn.stat("/Users/ana/link/f.txt")
    with pytest.raises(AccessDeniedError):
        conn.delete_tree("/Users/ana/link")
    assert (outside / "f.txt").read_bytes() == b"x"


def test_open_refuses_fifo_without_blocking(root: Path) -> None:
    """open on a FIFO path is refused after a non-blocking open (no reader hangs)."""
    os.mkfifo(root / "Users/ana/pipe")
    conn = LocalConnector("l", root)
    real = root / "Users/ana/real.txt"
    real.write_bytes(b"r")
    item = conn.stat("/Users/ana/real.txt")
    fifo_item = type(item)(item.location, "/Users/ana/pipe", 0, item.modified_at, "v")
    with pytest.raises(AccessDeniedError):
        conn.open(fifo_item)


def test_activity_live_and_dead_pids(root: Path) -> None:
    """A sessions/<pid>.json of a live local pid marks the endpoint busy; a dead pid does not."""
    sessions = root / "Users/ana/.claude/sessions"
    dead = 2**22 + 12345
    assert not is_pid_alive(dead)
    (sessions / f"{dead}.json").write_text("{}")
    conn = LocalConnector("l", root)
    assert conn.activity().agent_running is False
    (sessions / f"{os.getpid()}.json").write_text("{}")
    activity = conn.activity()
    assert activity.agent_running is True
    assert activity.evidence == (f"/Users/ana/.claude/sessions/{os.getpid()}.json",)


def test_pid_zero_is_not_alive() -> None:
    """pid 0 and negative pids are never probed (they would signal process groups)."""
    assert is_pid_alive(0) is False
    assert is_pid_alive(-1) is False


def test_missing_root_is_unreachable(tmp_path: Path) -> None:
    """A root that is not a directory makes the endpoint unreachable."""
    conn = LocalConnector("l", tmp_path / "absent")
    with pytest.raises(UnreachableError):
        list(conn.iter_items("/"))


def test_delete_tree_refuses_root(root: Path) -> None:
    """Deleting the whole endpoint root is refused."""
    with pytest.raises(AccessDeniedError):
        LocalConnector("l", root).delete_tree("/")


def test_prefix_that_is_a_symlink_is_followed(root: Path) -> None:
    """Listing a prefix that is itself an in-root symlink to a directory lists the target's files."""
    data = root / "Volumes/data/claude"
    data.mkdir(parents=True)
    (data / "history.jsonl").write_bytes(b"{}\n")
    (root / "Users/ana/.claude/link").symlink_to(data)
    items = [e.path for e in LocalConnector("l", root).iter_items("/Users/ana/.claude/link")]
    assert items == ["/Volumes/data/claude/history.jsonl"]


def test_symlinked_directory_inside_root_listed_canonically(root: Path) -> None:
    """A directory symlink to an in-root directory outside the prefix is walked under the target's paths."""
    data = root / "Volumes/data"
    data.mkdir(parents=True)
    (data / "a.txt").write_bytes(b"a")
    (root / "Users/ana/data").symlink_to(data)
    conn = LocalConnector("l", root)
    paths = [e.path for e in conn.iter_items("/Users/ana")]
    assert paths == ["/Volumes/data/a.txt"]
    assert conn.stat("/Volumes/data/a.txt").size == 1


def test_list_names_refuses_out_of_root(root: Path, tmp_path: Path) -> None:
    """list_names lists in-root directories and refuses one reached through a symlink out of the root."""
    (tmp_path / "outside").mkdir()
    (root / "Users/ana/out").symlink_to(tmp_path / "outside")
    conn = LocalConnector("l", root)
    assert conn.list_names("/Users/ana") == [".claude", "out"]
    assert conn.list_names("/Users/nobody") == []
    with pytest.raises(AccessDeniedError):
        conn.list_names("/Users/ana/out")


def test_socket_is_special_file(root: Path) -> None:
    """A Unix socket in the tree is skipped as `special_file`, never opened."""
    import socket

    path = root / "Users/ana/.claude/ide.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(path))
        entries = list(LocalConnector("l", root).iter_items("/Users/ana/.claude"))
    assert [(e.path, getattr(e, "reason", None)) for e in entries] == [("/Users/ana/.claude/ide.sock", "special_file")]


@pytest.mark.parametrize("kind", ["file", "symlink"])
def test_replace_with_a_named_temp_file_never_reuses_an_existing_entry(root: Path, kind: str) -> None:
    """With `temp_name`, an entry already of that name (a user's file or a link) is a conflict, left as it was."""
    target = root / "Users/ana/notes.md"
    target.write_bytes(b"old")
    name = temp_name("tag", "/Users/ana/notes.md")
    in_the_way = target.parent / name
    if kind == "file":
        in_the_way.write_bytes(b"the user's own bytes")
    else:
        in_the_way.symlink_to(target)
    conn = LocalConnector("l", root)
    item = conn.stat("/Users/ana/notes.md")
    with pytest.raises(VersionConflictError):
        conn.replace(item, [b"new"], Expected(item.size, item.version), temp_name=name)
    assert target.read_bytes() == b"old"
    if kind == "file":
        assert in_the_way.read_bytes() == b"the user's own bytes"
    else:
        assert in_the_way.is_symlink() and os.readlink(in_the_way) == str(target)


def test_replace_uses_exactly_the_named_temp_file(root: Path) -> None:
    """`temp_name` is the only temporary name used; none is left afterwards; a bad name is refused."""
    target = root / "Users/ana/notes.md"
    target.write_bytes(b"old")
    conn = LocalConnector("l", root)
    item = conn.stat("/Users/ana/notes.md")
    seen: list[str] = []

    def chunks() -> Iterator[bytes]:
        seen.extend(n for n in os.listdir(target.parent) if n.startswith(TEMP_PREFIX))
        yield b"new"

    name = temp_name("tag", "/Users/ana/notes.md")
    conn.replace(item, chunks(), Expected(item.size, item.version), temp_name=name)
    assert seen == [name]
    assert target.read_bytes() == b"new"
    assert not [n for n in os.listdir(target.parent) if n.startswith(TEMP_PREFIX)]
    again = conn.stat("/Users/ana/notes.md")
    with pytest.raises(ValueError, match="temporary file name"):
        conn.replace(again, [b"x"], Expected(again.size, again.version), temp_name="../escape")
    assert target.read_bytes() == b"new"
