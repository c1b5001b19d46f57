"""Changes over SFTP on a real sshd laptop: atomic replace keeps mode, moves mtime, never writes through links."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from connectors.base import TEMP_PREFIX, Expected, temp_name
from models.errors import VersionConflictError
from tests.fixtures.sshd import SSHFleet
from tests.integration.ssh.conftest import SSHLaptop, start_tree_laptop

pytestmark = pytest.mark.service

CV = "/Users/ana/Documents/cv.txt"
UPLOAD = "/Users/ana/Library/Application Support/Claude/uploads/cv.txt"
HISTORY = "/Users/ana/.claude/history.jsonl"


@pytest.fixture
def laptop(ssh_fleet: SSHFleet, tmp_path: Path) -> SSHLaptop:
    """A fresh laptop per test: these tests change its tree."""
    return start_tree_laptop(ssh_fleet, tmp_path, f"changes-{tmp_path.name}")


def _expected(path: Path, size: int, version: str) -> Expected:
    return Expected(size=size, version=version, sha256=hashlib.sha256(path.read_bytes()).hexdigest())


def test_replace_keeps_mode_and_changes_version_within_a_second(laptop: SSHLaptop) -> None:
    """Mode survives, and two replaces of equal size in the same second still get distinct versions."""
    local = laptop.tree / HISTORY.lstrip("/")
    local.chmod(0o640)
    with laptop.connector() as conn:
        first = conn.stat(HISTORY)
        second = conn.replace(first, [b"A" * first.size], _expected(local, first.size, first.version))
        third = conn.replace(second, [b"B" * first.size], _expected(local, second.size, second.version))
    assert (local.stat().st_mode & 0o777) == 0o640
    assert local.read_bytes() == b"B" * first.size
    assert len({first.version, second.version, third.version}) == 3
    assert third.modified_at > first.modified_at
    assert not [n for n in os.listdir(local.parent) if n.startswith(TEMP_PREFIX)]


def test_hard_linked_upload_keeps_other_name(laptop: SSHLaptop) -> None:
    """Replacing one name of a hard-linked file leaves the other name's bytes and inode untouched."""
    original = laptop.tree / CV.lstrip("/")
    before = original.read_bytes()
    inode = original.stat().st_ino
    with laptop.connector() as conn:
        item = conn.stat(UPLOAD)
        assert item.nlink == 2
        conn.replace(item, [b"[redacted]\n"], _expected(laptop.tree / UPLOAD.lstrip("/"), item.size, item.version))
        assert conn.stat(CV).nlink == 1
    assert original.read_bytes() == before
    assert original.stat().st_ino == inode
    assert (laptop.tree / UPLOAD.lstrip("/")).read_bytes() == b"[redacted]\n"


def test_replace_refused_when_file_grew(laptop: SSHLaptop) -> None:
    """An append after the read makes replace raise VersionConflictError and write nothing."""
    local = laptop.tree / HISTORY.lstrip("/")
    with laptop.connector() as conn:
        item = conn.stat(HISTORY)
        expected = _expected(local, item.size, item.version)
        with local.open("ab") as out:
            out.write(b'{"display":"appended by the app"}\n')
        grown = local.read_bytes()
        with pytest.raises(VersionConflictError):
            conn.replace(item, [b"{}\n"], expected)
    assert local.read_bytes() == grown
    assert not [n for n in os.listdir(local.parent) if n.startswith(TEMP_PREFIX)]


def test_same_size_rewrite_in_same_second_caught_by_hash(laptop: SSHLaptop) -> None:
    """A same-size rewrite keeping the whole-second mtime is caught by the sha256 re-check before rename."""
    local = laptop.tree / HISTORY.lstrip("/")
    with laptop.connector() as conn:
        item = conn.stat(HISTORY)
        expected = _expected(local, item.size, item.version)
        mtime = local.stat().st_mtime
        local.write_bytes(bytes(reversed(local.read_bytes())))
        os.utime(local, (mtime, mtime))
        assert conn.stat(HISTORY).version == item.version
        with pytest.raises(VersionConflictError):
            conn.replace(item, [b"{}\n"], expected)


def test_delete_tree_removes_directories(laptop: SSHLaptop) -> None:
    """delete_tree removes a session directory with nested files and reports the count."""
    session = laptop.tree / "Users" / "ana" / ".claude" / "projects"
    with laptop.connector() as conn:
        removed = conn.delete_tree("/Users/ana/.claude/projects")
        assert conn.delete_tree("/Users/ana/.claude/projects") == 0
    assert removed == 1
    assert not session.exists()


def test_named_temp_file_in_the_way_is_a_conflict_and_left_alone(laptop: SSHLaptop) -> None:
    """With `temp_name`, a symlink already of that name is never written through nor removed: a conflict."""
    local = laptop.tree / HISTORY.lstrip("/")
    before = local.read_bytes()
    name = temp_name("tag", HISTORY)
    (local.parent / name).symlink_to(local)
    with laptop.connector() as conn:
        item = conn.stat(HISTORY)
        with pytest.raises(VersionConflictError):
            conn.replace(item, [b"{}\n"], _expected(local, item.size, item.version), temp_name=name)
        assert local.read_bytes() == before
        assert (local.parent / name).is_symlink()
        (local.parent / name).unlink()
        conn.replace(item, [b"{}\n"], _expected(local, item.size, item.version), temp_name=name)
    assert local.read_bytes() == b"{}\n"
    assert not [n for n in os.listdir(local.parent) if n.startswith(TEMP_PREFIX)]
