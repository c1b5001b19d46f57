"""Databases changed on a private copy and written back (SSH): nothing reaches the laptop before the whole
change worked on the copies, the app is checked before every write, a hot rollback journal is refused."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

import pytest

from connectors.memory import MemoryConnector
from connectors.sqlite_store import DbRecord, erase_rows, erase_rows_via_copy
from models.errors import BusyError, UnsupportedOperationError

DB = "/home/u/.config/Cursor/state.vscdb"


def _scrub(record: DbRecord) -> dict[str, object] | None:
    cell = record.cells.get("value")
    if cell is None or not isinstance(cell.value, str) or "Ana Lopez" not in cell.value:
        return None
    return {"value": cell.value.replace("Ana Lopez", "[x]")}


def _wal_db(folder: Path) -> tuple[bytes, bytes]:
    """A database whose last rows live only in its `-wal` (the app closed without a checkpoint)."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "state.vscdb"
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA wal_autocheckpoint = 0")
    con.execute("CREATE TABLE kv(key TEXT PRIMARY KEY, value TEXT)")
    con.execute("INSERT INTO kv VALUES ('a', 'hello')")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.execute("INSERT INTO kv VALUES ('b', 'Ana Lopez wrote this')")
    # Copy while the connection is open: closing the last connection would checkpoint the WAL.
    main, wal = db.read_bytes(), (folder / "state.vscdb-wal").read_bytes()
    con.close()
    assert wal, "the fixture needs a non-empty WAL"
    return main, wal


def _laptop(tmp_path: Path, **kwargs: object) -> tuple[MemoryConnector, str]:
    main, wal = _wal_db(tmp_path)
    laptop = MemoryConnector("laptop", {DB: main, DB + "-wal": wal, DB + "-shm": b"\0" * 32768}, **kwargs)  # type: ignore[arg-type]
    return laptop, hashlib.sha256(main).hexdigest()


def test_write_back_erases_and_removes_the_sidecars(tmp_path: Path) -> None:
    """The baseline: the WAL's rows are erased too, the sidecars go, the digest is the laptop's new file."""
    laptop, sha = _laptop(tmp_path)
    done = erase_rows_via_copy(laptop, laptop.stat(DB), _scrub, expected_sha256=sha, is_busy=lambda: False)
    files = laptop.snapshot()
    assert set(files) == {DB}
    assert b"Ana Lopez" not in files[DB] and done.result.rows_changed == 1
    assert done.sha256_after == hashlib.sha256(files[DB]).hexdigest()


def _writes(tmp_path: Path) -> int:
    writes: list[str] = []
    laptop, sha = _laptop(tmp_path, before_commit=writes.append)
    erase_rows_via_copy(laptop, laptop.stat(DB), _scrub, expected_sha256=sha, is_busy=lambda: False)
    return len(writes)


def test_the_app_is_checked_again_before_every_laptop_write(tmp_path: Path) -> None:
    """The app opening at any point of the write-back stops it before the next write (BusyError)."""
    total = _writes(tmp_path / "count")
    assert total == 4, "merged file, -wal, -shm, erased file"
    for busy_at in range(total):
        folder = tmp_path / str(busy_at)
        folder.mkdir()
        writes: list[str] = []
        laptop, sha = _laptop(folder, before_commit=writes.append)
        checks: list[int] = []

        def is_busy(checks: list[int] = checks, busy_at: int = busy_at) -> bool:
            checks.append(1)
            return len(checks) > busy_at

        with pytest.raises(BusyError):
            erase_rows_via_copy(laptop, laptop.stat(DB), _scrub, expected_sha256=sha, is_busy=is_busy)
        assert len(writes) == busy_at, "no write after the app was seen running"


def test_busy_before_the_first_write_leaves_the_laptop_untouched(tmp_path: Path) -> None:
    laptop, sha = _laptop(tmp_path)
    before = laptop.snapshot()
    with pytest.raises(BusyError):
        erase_rows_via_copy(laptop, laptop.stat(DB), _scrub, expected_sha256=sha, is_busy=lambda: True)
    assert laptop.snapshot() == before


def test_an_erase_that_fails_on_the_copy_leaves_the_laptop_untouched(tmp_path: Path) -> None:
    """The WAL is merged on the copy only: a failing erase writes nothing back (not even the merge)."""
    laptop, sha = _laptop(tmp_path)
    before = laptop.snapshot()

    def broken(record: DbRecord) -> dict[str, object] | None:
        raise RuntimeError("edit failed")

    with pytest.raises(RuntimeError):
        erase_rows_via_copy(laptop, laptop.stat(DB), broken, expected_sha256=sha)
    assert laptop.snapshot() == before


def _hot_journal(folder: Path) -> Path:
    """A database and a hot `-journal` as a crash mid-transaction leaves them (copied while it was open)."""
    db = folder / "live" / "state.vscdb"
    db.parent.mkdir(parents=True)
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("CREATE TABLE kv(key TEXT PRIMARY KEY, value TEXT)")
    con.execute("INSERT INTO kv VALUES ('a', 'Ana Lopez wrote this')")
    con.execute("PRAGMA cache_size = 1")
    con.execute("BEGIN")
    con.execute("UPDATE kv SET value = 'half done'")
    for n in range(200):
        con.execute("INSERT INTO kv VALUES (?, ?)", (f"k{n}", "y" * 500))
    crashed = folder / "crashed" / "state.vscdb"
    crashed.parent.mkdir()
    shutil.copy(db, crashed)
    shutil.copy(db.with_name("state.vscdb-journal"), crashed.with_name("state.vscdb-journal"))
    con.execute("ROLLBACK")
    con.close()
    return crashed


def test_a_hot_journal_is_refused_over_ssh(tmp_path: Path) -> None:
    """The app would roll the journal back over the written-back file: refused, nothing written."""
    crashed = _hot_journal(tmp_path)
    main = crashed.read_bytes()
    laptop = MemoryConnector(
        "laptop", {DB: main, DB + "-journal": crashed.with_name("state.vscdb-journal").read_bytes()}
    )
    before = laptop.snapshot()
    with pytest.raises(UnsupportedOperationError, match="open the app once and close it") as caught:
        erase_rows_via_copy(laptop, laptop.stat(DB), _scrub, expected_sha256=hashlib.sha256(main).hexdigest())
    assert caught.value.fields.get("code") == "hot_journal"
    assert laptop.snapshot() == before


def test_a_finished_or_empty_journal_is_not_refused(tmp_path: Path) -> None:
    """An empty journal (`TRUNCATE` mode) or a zeroed header (`PERSIST` mode) holds no transaction."""
    for name, journal in (("empty", b""), ("persist", b"\0" * 512)):
        (tmp_path / name).mkdir()
        laptop, sha = _laptop(tmp_path / name)
        laptop.write_file(DB + "-journal", journal)
        done = erase_rows_via_copy(laptop, laptop.stat(DB), _scrub, expected_sha256=sha)
        assert done.result.rows_changed == 1 and laptop.snapshot()[DB + "-journal"] == journal


def test_a_hot_journal_is_refused_on_a_local_disk(tmp_path: Path) -> None:
    crashed = _hot_journal(tmp_path)
    journal = crashed.with_name("state.vscdb-journal")
    before = (crashed.read_bytes(), journal.read_bytes())
    with pytest.raises(UnsupportedOperationError, match="open the app once and close it"):
        erase_rows(crashed, _scrub)
    assert (crashed.read_bytes(), journal.read_bytes()) == before
