"""MemoryConnector specifics: link counts and the concurrent-writer hook."""

from __future__ import annotations

import pytest

from connectors.base import Expected
from connectors.memory import MemoryConnector
from models.errors import AccessDeniedError, VersionConflictError


def test_link_counts_follow_links_replaces_and_deletes() -> None:
    """nlink counts names per inode and drops when a name is replaced or deleted."""
    conn = MemoryConnector("m", {"/a": b"1"})
    conn.link("/a", "/b")
    assert (conn.stat("/a").nlink, conn.stat("/b").nlink) == (2, 2)
    item = conn.stat("/b")
    conn.replace(item, [b"2"], Expected(item.size, item.version))
    assert (conn.stat("/a").nlink, conn.stat("/b").nlink) == (1, 1)
    assert conn.snapshot() == {"/a": b"1", "/b": b"2"}
    conn.link("/a", "/c")
    assert conn.delete(conn.stat("/c")) is True
    assert conn.stat("/a").nlink == 1


def test_before_commit_hook_simulates_racing_writer() -> None:
    """A writer appending in the before_commit hook makes replace and delete refuse."""
    conn = MemoryConnector("m", {"/t.jsonl": b"1\n"})
    conn.before_commit = lambda path: conn.append(path, b"2\n")
    item = conn.stat("/t.jsonl")
    with pytest.raises(VersionConflictError):
        conn.replace(item, [b"x\n"], Expected(item.size, item.version))
    item = conn.stat("/t.jsonl")
    with pytest.raises(VersionConflictError):
        conn.delete(item, Expected(item.size, item.version))
    assert conn.snapshot() == {"/t.jsonl": b"1\n2\n2\n"}


def test_relative_and_dotdot_paths_refused() -> None:
    """Relative paths and `..` components are refused."""
    conn = MemoryConnector("m", {"/a": b"1"})
    with pytest.raises(AccessDeniedError):
        conn.stat("a")
    with pytest.raises(AccessDeniedError):
        conn.stat("/x/../a")
