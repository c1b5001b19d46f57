"""The one contract test suite every `Connector` backend runs (see `connectors.base.Connector`).

How to add a backend (SSH, S3, ...): create `tests/contract/test_<backend>.py` with a class named
`Test<Backend>Contract(ConnectorContract)` and a `backend` fixture returning an object that satisfies
`ContractBackend` below: the connector under test plus out-of-band helpers that change the endpoint the
way a user or the agent app would (write, append, hard link, symlink, FIFO, list raw names). A helper that
the backend cannot express (S3 has no symlinks) calls `pytest.skip("...")`. Mark the class
`@pytest.mark.service` if it needs a server process, and start/stop that server by pid in the fixture.
"""

from __future__ import annotations

import codecs
import pickle
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest
import zstandard

from connectors.base import Connector, Expected, Item, Skipped, sha256_of
from detection.identifiers import SubjectIdentifiers
from detection.matcher import Matcher
from detection.scan import scan_endpoint
from models.errors import AccessDeniedError, ItemNotFoundError, VersionConflictError


class ContractBackend(Protocol):
    """Out-of-band access to the endpoint behind `connector`; paths are laptop paths (`/Users/...`)."""

    connector: Connector

    def write_file(self, path: str, data: bytes) -> None:
        """Create parent directories and write `data` at `path`."""

    def read_file(self, path: str) -> bytes:
        """Raw bytes at `path`, bypassing the connector."""

    def append(self, path: str, data: bytes) -> None:
        """Append in place (same inode), as the agent app appending to a transcript would."""

    def make_hardlink(self, existing: str, new: str) -> None:
        """Make `new` a second name of `existing` (skip if unsupported)."""

    def make_symlink(self, path: str, target: str) -> None:
        """Make `path` a symlink to the laptop path `target` (skip if unsupported)."""

    def make_symlink_out_of_root(self, path: str) -> None:
        """Make `path` a symlink to a real file outside the endpoint's root (skip if unsupported)."""

    def make_fifo(self, path: str) -> None:
        """Make a FIFO at `path` (skip if unsupported)."""

    def names_in(self, directory: str) -> list[str]:
        """Every entry name in `directory`, hidden ones included (to find leftover temp files)."""

    def set_busy(self, busy: bool) -> None:
        """Mark the agent app as running (or not) on the endpoint."""


def _items(entries: Iterator[Item | Skipped]) -> dict[str, Item]:
    return {entry.path: entry for entry in entries if isinstance(entry, Item)}


def _skipped(entries: Iterator[Item | Skipped]) -> dict[str, Skipped]:
    return {entry.path: entry for entry in entries if isinstance(entry, Skipped)}


def _expected(connector: Connector, item: Item) -> Expected:
    with connector.open(item) as stream:
        digest = sha256_of(iter(lambda: stream.read(1 << 16), b""))
    return Expected(size=item.size, version=item.version, sha256=digest)


HOME = "/Users/ana"
SESSION = f"{HOME}/Library/Application Support/Claude/local-agent-mode-sessions/aaaaaaaa/bbbbbbbb/local_x"


class ConnectorContract:
    """Behaviour every backend must show; subclasses supply the `backend` fixture."""

    @pytest.fixture
    def connector(self, backend: ContractBackend) -> Connector:
        return backend.connector

    def test_lists_files_with_laptop_paths(self, backend: ContractBackend, connector: Connector) -> None:
        """Listing yields one Item per file with its laptop path, size and a version token."""
        backend.write_file(f"{HOME}/.claude/history.jsonl", b'{"display":"a"}\n')
        backend.write_file(f"{HOME}/.claude/projects/p/s.jsonl", b"{}\n{}\n")
        items = _items(connector.iter_items(HOME))
        assert set(items) == {f"{HOME}/.claude/history.jsonl", f"{HOME}/.claude/projects/p/s.jsonl"}
        item = items[f"{HOME}/.claude/projects/p/s.jsonl"]
        assert item.size == 6
        assert item.location == connector.name
        assert item.version
        assert item.modified_at.tzinfo is not None

    def test_missing_prefix_lists_nothing(self, backend: ContractBackend, connector: Connector) -> None:
        """A prefix that does not exist yields nothing instead of raising."""
        backend.write_file("/home/bo/x.txt", b"x")
        assert list(connector.iter_items("/home/nobody")) == []

    def test_stat_open_and_pickle(self, backend: ContractBackend, connector: Connector) -> None:
        """stat returns the same Item as listing; open streams its bytes; Items pickle."""
        backend.write_file(f"{HOME}/a.txt", b"hello")
        item = connector.stat(f"{HOME}/a.txt")
        assert item == _items(connector.iter_items(HOME))[f"{HOME}/a.txt"]
        with connector.open(item) as stream:
            assert stream.read() == b"hello"
        assert pickle.loads(pickle.dumps(item)) == item  # noqa: S301 - round-trips our own bytes

    def test_stat_missing_raises_not_found(self, connector: Connector) -> None:
        """stat of a missing path raises ItemNotFoundError."""
        with pytest.raises(ItemNotFoundError):
            connector.stat(f"{HOME}/missing.txt")

    def test_dotdot_paths_refused(self, backend: ContractBackend, connector: Connector) -> None:
        """A path with `..` components is refused, never resolved."""
        backend.write_file(f"{HOME}/a.txt", b"x")
        with pytest.raises(AccessDeniedError):
            connector.stat(f"{HOME}/../../etc/passwd")

    def test_replace_writes_new_content(self, backend: ContractBackend, connector: Connector) -> None:
        """replace swaps the content atomically and returns the new Item with a new version."""
        path = f"{SESSION}/audit.jsonl"
        backend.write_file(path, b"old line\n")
        item = connector.stat(path)
        new = connector.replace(item, [b"new ", b"line\n"], _expected(connector, item))
        assert backend.read_file(path) == b"new line\n"
        assert new.size == 9
        assert new.version != item.version
        assert connector.verify(item) == new

    def test_replace_refused_when_file_grew_after_read(self, backend: ContractBackend, connector: Connector) -> None:
        """Compare-and-swap: if the file grew between read and replace, nothing is written."""
        path = f"{SESSION}/.claude/projects/p/t.jsonl"
        backend.write_file(path, b'{"n":1}\n')
        item = connector.stat(path)
        expected = _expected(connector, item)
        backend.append(path, b'{"n":2}\n')
        with pytest.raises(VersionConflictError):
            connector.replace(item, [b'{"n":0}\n'], expected)
        assert backend.read_file(path) == b'{"n":1}\n{"n":2}\n'

    def test_replace_refused_when_file_grew_during_write(self, backend: ContractBackend, connector: Connector) -> None:
        """A writer appending while the new content is being written makes the final re-check refuse."""
        path = f"{SESSION}/audit.jsonl"
        backend.write_file(path, b"a\n")
        item = connector.stat(path)
        expected = _expected(connector, item)

        def racing_chunks() -> Iterator[bytes]:
            yield b"redacted\n"
            backend.append(path, b"b\n")

        with pytest.raises(VersionConflictError):
            connector.replace(item, racing_chunks(), expected)
        assert backend.read_file(path) == b"a\nb\n"
        assert backend.names_in(path.rsplit("/", 1)[0]) == ["audit.jsonl"]

    def test_replace_refused_on_hash_mismatch(self, backend: ContractBackend, connector: Connector) -> None:
        """A sha256 that no longer matches the content refuses the replace."""
        path = f"{HOME}/a.txt"
        backend.write_file(path, b"abc")
        item = connector.stat(path)
        wrong = Expected(size=item.size, version=item.version, sha256="0" * 64)
        with pytest.raises(VersionConflictError):
            connector.replace(item, [b"xyz"], wrong)
        assert backend.read_file(path) == b"abc"

    def test_failed_replace_leaves_no_temp_file(self, backend: ContractBackend, connector: Connector) -> None:
        """A failure in the middle of writing leaves the original intact and no temporary file behind."""
        path = f"{SESSION}/outputs/report.md"
        backend.write_file(path, b"original\n")
        item = connector.stat(path)
        expected = _expected(connector, item)

        class InjectedError(RuntimeError):
            pass

        def failing_chunks() -> Iterator[bytes]:
            yield b"partial"
            raise InjectedError

        with pytest.raises(InjectedError):
            connector.replace(item, failing_chunks(), expected)
        assert backend.read_file(path) == b"original\n"
        assert backend.names_in(f"{SESSION}/outputs") == ["report.md"]

    def test_hardlinked_upload_original_unchanged(self, backend: ContractBackend, connector: Connector) -> None:
        """Rewriting a hard-linked upload never writes through: the user's original keeps its bytes."""
        original = f"{HOME}/Documents/cv.txt"
        upload = f"{SESSION}/uploads/cv.txt"
        backend.write_file(original, b"Ada Example, ada@example.invalid\n")
        backend.make_hardlink(original, upload)
        item = connector.stat(upload)
        assert item.nlink == 2
        connector.replace(item, [b"[redacted]\n"], _expected(connector, item))
        assert backend.read_file(original) == b"Ada Example, ada@example.invalid\n"
        assert backend.read_file(upload) == b"[redacted]\n"
        assert connector.stat(original).nlink == 1

    def test_delete_then_missing_returns_false(self, backend: ContractBackend, connector: Connector) -> None:
        """delete removes the item; deleting it again is an outcome (False), not an error."""
        path = f"{HOME}/.claude/plans/p.md"
        backend.write_file(path, b"plan")
        item = connector.stat(path)
        assert connector.delete(item, _expected(connector, item)) is True
        assert connector.verify(item) is None
        assert connector.delete(item) is False

    def test_delete_refused_when_changed(self, backend: ContractBackend, connector: Connector) -> None:
        """delete with a stale expectation raises VersionConflictError and keeps the file."""
        path = f"{HOME}/.claude/history.jsonl"
        backend.write_file(path, b"1\n")
        item = connector.stat(path)
        expected = _expected(connector, item)
        backend.append(path, b"2\n")
        with pytest.raises(VersionConflictError):
            connector.delete(item, expected)
        assert backend.read_file(path) == b"1\n2\n"

    def test_delete_tree_counts_and_removes(self, backend: ContractBackend, connector: Connector) -> None:
        """delete_tree removes every file below the path and returns how many; 0 when already gone."""
        for name in ("a.jsonl", "sub/b.jsonl", "sub/c/d.txt"):
            backend.write_file(f"{SESSION}/{name}", b"x")
        backend.write_file(f"{HOME}/keep.txt", b"k")
        assert connector.delete_tree(SESSION) == 3
        assert list(connector.iter_items(SESSION)) == []
        assert set(_items(connector.iter_items(HOME))) == {f"{HOME}/keep.txt"}
        assert connector.delete_tree(SESSION) == 0

    def test_activity_reports_busy_marker(self, backend: ContractBackend, connector: Connector) -> None:
        """activity() reports the agent app as running when the endpoint is marked busy, with evidence."""
        backend.write_file(f"{HOME}/a.txt", b"x")
        assert connector.activity().agent_running is False
        backend.set_busy(True)
        activity = connector.activity()
        assert activity.agent_running is True
        assert activity.evidence

    def test_context_manager(self, connector: Connector) -> None:
        """Connectors are context managers returning themselves."""
        with connector as entered:
            assert entered is connector

    @pytest.mark.timeout(20)
    def test_symlink_out_of_root_not_followed(self, backend: ContractBackend, connector: Connector) -> None:
        """A symlink leading out of the root is reported as skipped and its target is never listed."""
        backend.write_file(f"{HOME}/.claude/history.jsonl", b"{}\n")
        backend.make_symlink_out_of_root(f"{HOME}/.claude/projects")
        entries = list(connector.iter_items(HOME))
        skipped = _skipped(iter(entries))
        assert skipped[f"{HOME}/.claude/projects"].reason == "symlink_out_of_scope"
        assert skipped[f"{HOME}/.claude/projects"].target
        assert set(_items(iter(entries))) == {f"{HOME}/.claude/history.jsonl"}
        with pytest.raises(AccessDeniedError):
            connector.stat(f"{HOME}/.claude/projects/secret.txt")

    @pytest.mark.timeout(20)
    def test_symlink_loop_terminates(self, backend: ContractBackend, connector: Connector) -> None:
        """Directory and file symlink loops end the listing with `symlink_loop` entries."""
        backend.write_file(f"{HOME}/d/f.txt", b"x")
        backend.make_symlink(f"{HOME}/d/up", HOME)
        backend.make_symlink(f"{HOME}/d/x", f"{HOME}/d/y")
        backend.make_symlink(f"{HOME}/d/y", f"{HOME}/d/x")
        entries = list(connector.iter_items(f"{HOME}/d"))
        skipped = _skipped(iter(entries))
        assert skipped[f"{HOME}/d/up"].reason == "symlink_loop"
        assert skipped[f"{HOME}/d/x"].reason == "symlink_loop"
        assert set(_items(iter(entries))) == {f"{HOME}/d/f.txt"}

    def test_symlink_inside_root_followed_once(self, backend: ContractBackend, connector: Connector) -> None:
        """A symlink to a file inside the root but outside the prefix lists the target under its own path."""
        backend.write_file("/Volumes/data/notes.md", b"n")
        backend.write_file(f"{HOME}/.claude/plans/a.md", b"a")
        backend.make_symlink(f"{HOME}/.claude/plans/notes.md", "/Volumes/data/notes.md")
        items = _items(connector.iter_items(f"{HOME}/.claude"))
        assert set(items) == {f"{HOME}/.claude/plans/a.md", "/Volumes/data/notes.md"}
        with pytest.raises(AccessDeniedError):
            connector.stat(f"{HOME}/.claude/plans/notes.md")

    @pytest.mark.timeout(20)
    def test_fifo_skipped_not_opened(self, backend: ContractBackend, connector: Connector) -> None:
        """A FIFO is reported as `special_file` and never opened (listing does not block)."""
        backend.write_file(f"{HOME}/a.txt", b"x")
        backend.make_fifo(f"{HOME}/pipe")
        entries = list(connector.iter_items(HOME))
        assert _skipped(iter(entries))[f"{HOME}/pipe"].reason == "special_file"
        assert set(_items(iter(entries))) == {f"{HOME}/a.txt"}
        with pytest.raises(AccessDeniedError):
            connector.stat(f"{HOME}/pipe")

    def test_replace_refuses_symlink(self, backend: ContractBackend, connector: Connector) -> None:
        """A symlink is never written through: replace on its path is refused and the target is unchanged."""
        backend.write_file(f"{HOME}/real.txt", b"real")
        backend.make_symlink(f"{HOME}/link.txt", f"{HOME}/real.txt")
        real = connector.stat(f"{HOME}/real.txt")
        fake = Item(real.location, f"{HOME}/link.txt", real.size, real.modified_at, real.version, real.nlink)
        with pytest.raises((AccessDeniedError, VersionConflictError)):
            connector.replace(fake, [b"new"], Expected(size=real.size, version=real.version))
        assert backend.read_file(f"{HOME}/real.txt") == b"real"

    def test_delete_tree_does_not_follow_symlinks(self, backend: ContractBackend, connector: Connector) -> None:
        """delete_tree unlinks a symlinked directory inside the tree but keeps its target's files."""
        backend.write_file(f"{HOME}/Documents/keep.txt", b"k")
        backend.write_file(f"{SESSION}/a.txt", b"a")
        backend.make_symlink(f"{SESSION}/docs", f"{HOME}/Documents")
        assert connector.delete_tree(SESSION) == 2
        assert backend.read_file(f"{HOME}/Documents/keep.txt") == b"k"

    # -- the other agents' stores (laptops only) --------------------------------------------------------

    def _laptop_only(self, connector: Connector) -> None:
        if not hasattr(connector, "list_names"):
            pytest.skip("a store holds no agent histories")

    def test_agent_database_read_with_its_wal_and_left_unchanged(
        self, backend: ContractBackend, connector: Connector
    ) -> None:
        """A SQLite store and its `-wal` are read through a private copy: rows located by `record`, rows only
        in the WAL included, and neither file changed by the scan."""
        self._laptop_only(connector)
        db, wal = _wal_database()
        path = f"{HOME}/.local/share/opencode/opencode.db"
        backend.write_file(path, db)
        backend.write_file(path + "-wal", wal)
        result = scan_endpoint(connector, connector.name, _agent_matcher(), classify=False)
        records = {i.location.record for i in result.items if i.path == path}
        assert records == {"session:ses_1", "session:ses_2"}, "the row only in the WAL is read too"
        assert backend.read_file(path) == db and backend.read_file(path + "-wal") == wal

    def test_agent_utf16_and_zstd_files_found_on_their_lines(
        self, backend: ContractBackend, connector: Connector
    ) -> None:
        """A UTF-16 file and a zstd rollout are decoded for scanning; lines are those of the decoded text."""
        self._laptop_only(connector)
        text = "a\nb\nmail nia.obuya@example.invalid\n"
        backend.write_file(f"{HOME}/Claude/Projects/p/people.csv", codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
        rollout = b'{"a":1}\n{"text":"nia.obuya@example.invalid"}\n'
        name = f"{HOME}/.codex/archived_sessions/rollout-2026-01-05T10-00-00-0199ffff-1111-4222-8333-444444444444"
        backend.write_file(name + ".jsonl.zst", zstandard.ZstdCompressor(level=3).compress(rollout))
        backend.write_file(f"{HOME}/Library/x", b"")  # a macOS home
        result = scan_endpoint(connector, connector.name, _agent_matcher(), classify=False)
        found = {(i.path, i.line) for i in result.items}
        assert (f"{HOME}/Claude/Projects/p/people.csv", 3) in found
        assert (name + ".jsonl.zst", 2) in found


def _agent_matcher() -> Matcher:
    return Matcher.from_identifiers(SubjectIdentifiers(("nia.obuya@example.invalid",), ("Nia Obuya",), (), ()))


def _wal_database() -> tuple[bytes, bytes]:
    """Bytes of a WAL-mode database whose second row exists only in its WAL (as while the app runs)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "db.sqlite"
        con = sqlite3.connect(path)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("CREATE TABLE session(id TEXT PRIMARY KEY, title TEXT)")
        con.execute("INSERT INTO session VALUES ('ses_1', 'Nia Obuya')")
        con.commit()
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.execute("PRAGMA wal_autocheckpoint=0")
        con.execute("INSERT INTO session VALUES ('ses_2', 'for nia.obuya@example.invalid')")
        con.commit()
        db, wal = path.read_bytes(), Path(str(path) + "-wal").read_bytes()
        con.close()
    assert wal, "the second row must sit in the WAL"
    return db, wal
