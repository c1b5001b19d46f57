"""SQLite stores: record keys, storage classes kept, WAL untouched by reading, locked or corrupt is an error."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import zstandard

from connectors.local import LocalConnector
from connectors.sqlite_store import erase_rows, iter_db_records, private_copy
from models.errors import DatabaseError


def _db(path: Path) -> None:
    con = sqlite3.connect(path)
    con.executescript(
        "CREATE TABLE threads(id TEXT PRIMARY KEY, title TEXT, data BLOB);"
        "CREATE TABLE kv(key TEXT UNIQUE, value BLOB);"
        "CREATE TABLE logs(n INTEGER, id INTEGER, body TEXT);"
        "CREATE TABLE plain(body TEXT);"
        "CREATE VIRTUAL TABLE search USING fts5(body);"
    )
    blob = zstandard.ZstdCompressor(level=3).compress(b'{"t":"Ana Lopez"}')
    con.execute("INSERT INTO threads VALUES ('t1', 'Ana Lopez', ?)", (blob,))
    con.execute("INSERT INTO kv VALUES ('bubbleId:c:b', ?)", (b'{"text":"Ana Lopez"}',))
    con.execute("INSERT INTO logs VALUES (1, 42, 'Ana Lopez')")
    con.execute("INSERT INTO plain VALUES ('Ana Lopez')")
    con.execute("INSERT INTO search VALUES ('Ana Lopez')")
    con.commit()
    con.close()


def test_record_keys_follow_the_rules(tmp_path: Path) -> None:
    """Primary key, else `key`, else `id`, else rowid; FTS by rowid; shadow and sqlite_* tables never listed."""
    db = tmp_path / "x.db"
    _db(db)
    records = {r.record: r.value() for r in iter_db_records(db)}
    assert set(records) == {"threads:t1", "kv:bubbleId:c:b", "logs:42", "plain:1", "search:1"}
    assert records["threads:t1"]["data"] == {"t": "Ana Lopez"}, "zstd blobs are decompressed"


def test_erase_keeps_storage_classes_and_vacuums(tmp_path: Path) -> None:
    """Cells change in their storage class (zstd stays zstd), FTS is rebuilt, no old byte is left."""
    db = tmp_path / "x.db"
    _db(db)

    def edit(record):  # type: ignore[no-untyped-def]
        return {col: _scrub(cell.value) for col, cell in record.cells.items() if cell.value is not None}

    result = erase_rows(db, edit)
    assert result.rows_changed == 5 and result.fts_rebuilt == ("search",)
    assert b"Ana Lopez" not in db.read_bytes()
    con = sqlite3.connect(db)
    kind, data = con.execute("SELECT typeof(data), data FROM threads").fetchone()
    assert kind == "blob" and zstandard.ZstdDecompressor().decompress(data, max_output_size=99) == b'{"t":"[x]"}'
    assert con.execute("SELECT typeof(value) FROM kv").fetchone() == ("blob",)
    assert con.execute("SELECT count(*) FROM search WHERE search MATCH 'Lopez'").fetchone() == (0,)
    con.close()


def _scrub(value: object) -> object:
    if isinstance(value, str):
        return value.replace("Ana Lopez", "[x]")
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    return value


def test_locked_database_is_an_error_and_unchanged(tmp_path: Path) -> None:
    """A database another process holds locked is a DatabaseError; its bytes are exactly as before."""
    db = tmp_path / "x.db"
    _db(db)
    before = db.read_bytes()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(DatabaseError):
            erase_rows(db, lambda record: {"title": "x"} if record.table == "threads" else None)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert db.read_bytes() == before


def test_reading_uses_a_private_copy_and_leaves_the_wal(tmp_path: Path) -> None:
    """Scanning reads the database with its WAL from a copy: the laptop's WAL stays as it was."""
    root = tmp_path / "lap"
    db = root / "home/ana/.local/share/opencode/opencode.db"
    db.parent.mkdir(parents=True)
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA wal_autocheckpoint=0")
    con.execute("CREATE TABLE session(id TEXT PRIMARY KEY, title TEXT)")
    con.execute("INSERT INTO session VALUES ('ses_1', 'Ana Lopez')")
    con.commit()
    wal = db.with_name("opencode.db-wal")
    wal_bytes, db_bytes = wal.read_bytes(), db.read_bytes()
    with LocalConnector("lap", root) as connector, private_copy(connector, connector.stat(
        "/home/ana/.local/share/opencode/opencode.db"
    )) as copy:  # fmt: skip
        assert [r.record for r in iter_db_records(copy)] == ["session:ses_1"]
    assert wal.read_bytes() == wal_bytes and db.read_bytes() == db_bytes
    con.close()


def test_not_a_database_is_an_error(tmp_path: Path) -> None:
    """Garbage after the header is a DatabaseError, never a crash."""
    db = tmp_path / "x.db"
    db.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4096)
    with pytest.raises(DatabaseError):
        list(iter_db_records(db))
