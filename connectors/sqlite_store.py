"""SQLite stores of agent histories: read every row with its record key, and change rows the safe way.

Owns the mechanics only: recognising a database by its header, a private consistent copy for reading (the
database with its `-wal`, so scanning never checkpoints or deletes a WAL on the laptop), record keys
(`<table>:<key>`), cell decoding (JSON text, UTF-8 blobs, zstd-compressed blobs) and the erase procedure
(exclusive lock, `secure_delete`, one transaction, cells written back in their storage class, full-text
indexes rebuilt, WAL checkpoint, `VACUUM`, checkpoint again), in place on a local disk or, for a connector
that only moves bytes (SSH), on a private copy written back by compare-and-swap and atomic replace. What to
change is decided by the caller.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import zstandard

from connectors.base import Connector, Expected, Item
from models.errors import (
    BusyError,
    ConnectorError,
    DatabaseError,
    ItemNotFoundError,
    UnsupportedOperationError,
    VersionConflictError,
)

__all__ = [
    "DELETE_ROW",
    "SQLITE_MAGIC",
    "ZSTD_MAGIC",
    "Cell",
    "CopyEraseResult",
    "DatabaseError",
    "DbRecord",
    "EraseResult",
    "delete_rows",
    "erase_rows",
    "erase_rows_via_copy",
    "is_sqlite",
    "iter_db_records",
    "private_copy",
    "remove_side_files",
    "side_files",
]

SQLITE_MAGIC = b"SQLite format 3\x00"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
ZSTD_LEVEL = 3
"""Level used to recompress an edited zstd cell or file (the level Zed writes with)."""
MAX_CELL_BYTES = 64 << 20
SIDE_FILES = ("-wal", "-shm", "-journal")
"""What SQLite keeps beside a database (its path plus the suffix): the WAL and the rollback journal hold its
content, `-shm` indexes the WAL."""
_FTS_SHADOW = ("_data", "_idx", "_content", "_docsize", "_config", "_segments", "_segdir", "_stat")


def is_sqlite(head: bytes) -> bool:
    """Whether a file's first 16 bytes are SQLite's header (recognised by content, never by extension)."""
    return head.startswith(SQLITE_MAGIC)


@dataclass(frozen=True, slots=True)
class Cell:
    """One cell as stored and as decoded.

    Attributes:
        storage: `text`, `blob`, `integer`, `real` or `null` (SQLite's storage class).
        value: the decoded value: a JSON value when the text parses as JSON, else the text; None for
            numbers and undecodable blobs.
        compressed: the blob was zstd-compressed (re-compressed on write).
        json_style: the JSON text's (ensure_ascii, separators, indent) when `value` came from JSON text.
    """

    storage: str
    value: object
    compressed: bool = False
    json_style: tuple[bool, tuple[str, str], int | None] | None = None
    raw: int | float | None = None  # the number of an INTEGER or REAL cell (times, ids)


@dataclass(frozen=True, slots=True)
class DbRecord:
    """One row: `record` is `<table>:<key>` (see `record_key_column`)."""

    table: str
    key: str
    rowid: int | None
    cells: dict[str, Cell]
    key_values: tuple[object, ...] = ()

    @property
    def record(self) -> str:
        """The finding's `location.record`."""
        return f"{self.table}:{self.key}"

    def value(self) -> dict[str, object]:
        """Column -> decoded value, for matching and for the access copy."""
        return {name: cell.value for name, cell in self.cells.items() if cell.value is not None}


def _json_style(text: str, value: object) -> tuple[bool, tuple[str, str], int | None]:
    for indent in (None, 2, 4):
        for ensure_ascii in (False, True):
            for separators in ((",", ":"), (", ", ": ")) if indent is None else ((",", ": "),):
                if json.dumps(value, ensure_ascii=ensure_ascii, separators=separators, indent=indent) == text:
                    return ensure_ascii, separators, indent
    return (text.isascii(), (",", ":"), None)


def _decode_text(text: str) -> tuple[object, tuple[bool, tuple[str, str], int | None] | None]:
    stripped = text.lstrip()
    if stripped[:1] in ("{", "[", '"'):
        try:
            value = json.loads(text)
        except ValueError:
            return text, None
        return value, _json_style(text, value)
    return text, None


def decode_cell(raw: object) -> Cell:
    """Decode one stored value (JSON text, UTF-8 or zstd blob) for matching."""
    if raw is None:
        return Cell("null", None)
    if isinstance(raw, int):
        return Cell("integer", None, raw=raw)
    if isinstance(raw, float):
        return Cell("real", None, raw=raw)
    if isinstance(raw, str):
        value, style = _decode_text(raw)
        return Cell("text", value, json_style=style)
    data = bytes(raw) if isinstance(raw, bytes | bytearray | memoryview) else b""
    compressed = data.startswith(ZSTD_MAGIC)
    if compressed:
        try:
            data = zstandard.ZstdDecompressor().decompress(data, max_output_size=MAX_CELL_BYTES)
        except zstandard.ZstdError:
            return Cell("blob", None)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return Cell("blob", None, compressed)
    value, style = _decode_text(text)
    return Cell("blob", value, compressed, style)


def encode_cell(cell: Cell, value: object) -> object:
    """The stored form of a new decoded value, in the cell's storage class (and compression, JSON style)."""
    if cell.json_style is not None:
        ensure_ascii, separators, indent = cell.json_style
        text = json.dumps(value, ensure_ascii=ensure_ascii, separators=separators, indent=indent)
    else:
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if cell.storage == "text":
        return text
    data = text.encode("utf-8")
    if cell.compressed:
        data = zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(data)
    return data


@dataclass(frozen=True, slots=True)
class _Table:
    name: str
    key_columns: tuple[str, ...]  # () means rowid
    virtual: bool
    without_rowid: bool


def _tables(con: sqlite3.Connection) -> list[_Table]:
    rows = con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name").fetchall()
    virtual = {name for name, sql in rows if (sql or "").upper().startswith("CREATE VIRTUAL TABLE")}
    shadows = {f"{v}{suffix}" for v in virtual for suffix in _FTS_SHADOW}
    tables = []
    for name, sql in rows:
        if name.startswith("sqlite_") or name in shadows:
            continue
        info = con.execute(f'PRAGMA table_info("{_ident(name)}")').fetchall()
        pks = tuple(col[1] for col in sorted(info, key=lambda c: c[5]) if col[5])
        columns = {col[1] for col in info}
        without_rowid = "WITHOUT ROWID" in (sql or "").upper()
        if name in virtual:
            keys: tuple[str, ...] = ()
        elif len(pks) == 1:
            keys = pks
        elif "key" in columns and not without_rowid:
            keys = ("key",)
        elif "id" in columns and not without_rowid:
            keys = ("id",)
        elif without_rowid:
            keys = pks
        else:
            keys = ()
        tables.append(_Table(name, keys, name in virtual, without_rowid))
    return tables


def _ident(name: str) -> str:
    return name.replace('"', '""')


def _open(path: Path, *, readonly: bool) -> sqlite3.Connection:
    uri = f"{path.resolve().as_uri()}?mode={'ro' if readonly else 'rw'}"
    try:
        con = sqlite3.connect(uri, uri=True, timeout=0.5, isolation_level=None)
        con.execute("PRAGMA query_only = 1" if readonly else "PRAGMA query_only = 0")
        con.text_factory = lambda raw: raw.decode("utf-8", "surrogateescape")
    except sqlite3.Error as exc:
        raise DatabaseError(f"cannot open database: {type(exc).__name__}", path=path.name) from exc
    return con


def iter_db_records(path: Path) -> Iterator[DbRecord]:
    """Every row of every table of the database at `path` (a private copy), FTS tables by rowid.

    `sqlite_*` tables and full-text shadow tables are never reported.

    Raises:
        DatabaseError: the file is not a readable database (corrupt, encrypted, locked).
    """
    con = _open(path, readonly=False)  # a private copy: reading may replay its WAL
    try:
        for table in _tables(con):
            yield from _rows(con, table)
    except sqlite3.Error as exc:
        raise DatabaseError(f"cannot read database: {type(exc).__name__}", path=path.name) from exc
    finally:
        con.close()


def _rows(con: sqlite3.Connection, table: _Table) -> Iterator[DbRecord]:
    name = _ident(table.name)
    rowid_sql = "" if table.without_rowid else "rowid AS __dsr_rowid, "
    cursor = con.execute(f'SELECT {rowid_sql}* FROM "{name}"')  # noqa: S608 - identifier quoted, no user input
    columns = [d[0] for d in cursor.description]
    for row in cursor:
        values = dict(zip(columns, row, strict=True))
        rowid = values.pop("__dsr_rowid", None)
        if table.key_columns:
            key = ":".join("" if values.get(c) is None else str(values.get(c)) for c in table.key_columns)
        else:
            key = str(rowid)
        cells = {col: decode_cell(raw) for col, raw in values.items()}
        key_values = tuple(values.get(c) for c in table.key_columns)
        yield DbRecord(table.name, key, rowid if isinstance(rowid, int) else None, cells, key_values)


@contextlib.contextmanager
def private_copy(connector: Connector, item: Item) -> Iterator[Path]:
    """A private copy of the database `item` with its `-wal` (read through the connector), deleted after.

    Reading the copy can never checkpoint, truncate or delete the laptop's WAL.
    """
    with tempfile.TemporaryDirectory(prefix="dsr-db-") as tmp:
        target = Path(tmp) / "db.sqlite"
        with connector.open(item) as stream, target.open("wb") as out:
            _copy(stream, out)
        try:
            wal = connector.stat(item.path + "-wal")
        except (ItemNotFoundError, ConnectorError):
            wal = None
        if wal is not None and wal.size:
            with connector.open(wal) as stream, (Path(tmp) / "db.sqlite-wal").open("wb") as out:
                _copy(stream, out)
        yield target


def _copy(stream: BinaryIO, out: BinaryIO) -> None:
    shutil.copyfileobj(stream, out, 1 << 20)


@dataclass(frozen=True, slots=True)
class EraseResult:
    """What an erase changed: rows updated or deleted, FTS tables rebuilt, and whether the WAL is empty."""

    rows_changed: int
    fts_rebuilt: tuple[str, ...]
    wal_empty: bool


Edit = Callable[[DbRecord], dict[str, object] | None]
"""Given a row, the new decoded values of the cells to change (None or {} leaves the row as it is), or
`DELETE_ROW` to delete the row (a content-addressed blob: editing it would break its key)."""


class _DeleteRow(dict[str, object]):
    """The type of `DELETE_ROW` (told apart from an empty change by its type)."""


DELETE_ROW: dict[str, object] = _DeleteRow()
"""What an `Edit` returns to delete the row instead of changing cells."""


def erase_rows(path: Path, edit: Edit) -> EraseResult:
    """Change rows of the database at `path` in place, then remove every trace of the old values.

    The app must be closed. Opens read-write with an exclusive lock and `secure_delete` on, runs every
    UPDATE in one `BEGIN IMMEDIATE` transaction (cells keep their storage class, compression and JSON
    style), rebuilds every full-text table touched, commits, checkpoints the WAL (TRUNCATE), `VACUUM`s
    (freed pages would still hold deleted text) and checkpoints again. On any error the transaction is
    rolled back: nothing is half-written.

    Raises:
        DatabaseError: not a database, corrupt, or locked by another process.
        UnsupportedOperationError: (code `hot_journal`) a hot rollback journal beside the file; untouched.
    """

    def change(con: sqlite3.Connection, table: _Table, record: DbRecord) -> bool:
        updates = edit(record)
        if isinstance(updates, _DeleteRow):
            where, key_params = _where(table, record)
            con.execute(f'DELETE FROM "{_ident(table.name)}" WHERE {where}', key_params)  # noqa: S608 - quoted idents
            return True
        if not updates:
            return False
        sets = ", ".join(f'"{_ident(col)}" = ?' for col in updates)
        params = [encode_cell(record.cells[col], value) for col, value in updates.items()]
        where, key_params = _where(table, record)
        update = f'UPDATE "{_ident(table.name)}" SET {sets} WHERE {where}'  # noqa: S608 - quoted idents, values bound
        con.execute(update, [*params, *key_params])
        return True

    return _change_rows(path, change)


def delete_rows(path: Path, wanted: Callable[[DbRecord], bool]) -> EraseResult:
    """Delete the rows `wanted` selects from the database at `path`, then remove every trace of them.

    The same procedure as `erase_rows` (app closed, exclusive lock, `secure_delete`, one transaction, every
    full-text table touched or indexing a touched table rebuilt, WAL checkpoint TRUNCATE, `VACUUM`,
    checkpoint again); a rollback on any error leaves the database as it was.

    Raises:
        DatabaseError: not a database, corrupt, or locked by another process.
        UnsupportedOperationError: (code `hot_journal`) a hot rollback journal beside the file; untouched.
    """

    def change(con: sqlite3.Connection, table: _Table, record: DbRecord) -> bool:
        if not wanted(record):
            return False
        where, key_params = _where(table, record)
        con.execute(f'DELETE FROM "{_ident(table.name)}" WHERE {where}', key_params)  # noqa: S608 - quoted idents
        return True

    return _change_rows(path, change)


_Change = Callable[[sqlite3.Connection, "_Table", DbRecord], bool]


def _change_rows(path: Path, change: _Change) -> EraseResult:
    """Open `path` for a safe change, apply `change` to every row in one transaction, rebuild the full-text
    indexes involved, then checkpoint, `VACUUM` and checkpoint (see `erase_rows`). A hot rollback journal
    beside the file is refused before the database is opened (see `HOT_JOURNAL_MESSAGE`)."""
    _refuse_local_hot_journal(path)
    con = _open(path, readonly=False)
    changed = 0
    rebuilt: list[str] = []
    try:
        con.execute("PRAGMA locking_mode = EXCLUSIVE")
        con.execute("PRAGMA secure_delete = ON")
        con.execute("BEGIN IMMEDIATE")
        try:
            tables = _tables(con)
            touched: set[str] = set()
            for table in tables:
                for record in list(_rows(con, table)):
                    if change(con, table, record):
                        changed += 1
                        touched.add(table.name)
            for table in tables:
                if table.virtual and (table.name in touched or _indexes_any(con, table.name, touched)):
                    quoted = _ident(table.name)
                    rebuild = f'INSERT INTO "{quoted}"("{quoted}") VALUES (\'rebuild\')'  # noqa: S608 - quoted idents
                    con.execute(rebuild)
                    rebuilt.append(table.name)
            con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                con.execute("ROLLBACK")
            raise
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.execute("VACUUM")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error as exc:
        raise DatabaseError(f"cannot change database: {type(exc).__name__}", path=path.name) from exc
    finally:
        con.close()
    wal = path.with_name(path.name + "-wal")
    return EraseResult(changed, tuple(rebuilt), not wal.exists() or wal.stat().st_size == 0)


def _indexes_any(con: sqlite3.Connection, fts: str, tables: set[str]) -> bool:
    """Whether the full-text table `fts` is an external-content index of one of `tables`."""
    if not tables:
        return False
    row = con.execute("SELECT sql FROM sqlite_master WHERE name = ?", (fts,)).fetchone()
    sql = (row[0] or "") if row else ""
    found = re.search(r"content\s*=\s*['\"]?([^'\",)\s]+)", sql, re.IGNORECASE)
    return found is not None and found.group(1) in tables


def vacuum(path: Path) -> EraseResult:
    """`VACUUM` a database that once held the subject (deleted rows stay readable in free pages)."""
    return erase_rows(path, lambda _record: None)


def _where(table: _Table, record: DbRecord) -> tuple[str, list[object]]:
    if table.without_rowid:
        return " AND ".join(f'"{_ident(c)}" = ?' for c in table.key_columns), list(record.key_values)
    return "rowid = ?", [record.rowid]


@dataclass(frozen=True, slots=True)
class CopyEraseResult:
    """An erase made on a private copy and written back: what changed, and the new main file's digest."""

    result: EraseResult
    sha256_after: str
    sidecars_removed: tuple[str, ...]


def _stat_or_none(connector: Connector, path: str) -> Item | None:
    try:
        return connector.stat(path)
    except ItemNotFoundError:
        return None


def erase_rows_via_copy(
    connector: Connector,
    item: Item,
    edit: Edit,
    *,
    expected_sha256: str,
    temp_name: str | None = None,
    is_busy: Callable[[], bool] | None = None,
) -> CopyEraseResult:
    """Change rows of a database the connector can only move bytes of (SSH), the same way as `erase_rows`.

    Everything is prepared on private copies before the laptop is touched: the database as planned (compare
    against `expected_sha256`) with its `-wal` merged into it (checkpoint), then `erase_rows` on a copy of
    the merged file (one transaction, `secure_delete`, FTS rebuilt, WAL checkpointed, `VACUUM`), then an
    integrity check. A failure up to here leaves the laptop untouched. Only then the laptop is changed, in
    steps that each leave a consistent database behind:

    1. When the laptop holds a non-empty `-wal`, the merged file replaces the database (compare-and-swap
       against the planned content); the WAL left on the laptop then only repeats what the file holds.
    2. The `-wal` (only while it holds exactly the bytes copied: compared by sha256, since a version over
       SSH has whole seconds) and `-shm` are removed.
    3. The erased copy replaces the database by compare-and-swap and atomic replace.

    `is_busy` (the app that owns the database runs) is asked again just before every one of these writes;
    when it says busy, `BusyError` is raised and nothing more is changed. A database with a hot rollback
    journal (an interrupted transaction the app rolls back when it next opens the file) is refused before
    anything is written. A run stopped between the steps leaves a database whose content differs from the
    plan: the next run reports a conflict (plan again), never writes over it.

    Raises:
        VersionConflictError: the database or its WAL changed since it was read or planned (a WAL changed
            after step 1 stays, and so does the merged file: the next run reports a conflict).
        BusyError: `is_busy` said the app runs (nothing more was written).
        UnsupportedOperationError: (code `hot_journal`) a hot journal beside the database; nothing written.
        DatabaseError: a copy that is not a readable database, or a WAL that could not be emptied.
    """
    # A finished rollback journal stays: it holds nothing, and the database it belongs to stays.
    sidecars = side_files(connector, item.path, ("-wal", "-shm"))
    _refuse_remote_hot_journal(connector, item)
    with tempfile.TemporaryDirectory(prefix="dsr-db-") as tmp:
        target = Path(tmp) / "db.sqlite"
        with connector.open(item) as stream, target.open("wb") as out:
            _copy(stream, out)
        if _file_sha(target) != expected_sha256:
            raise VersionConflictError("database changed since the erasure plan was made", path=item.path)
        folded = _merge_wal_copy(connector, sidecars.get("-wal"), target)
        result = erase_rows(target, edit)
        if not result.wal_empty:
            raise DatabaseError("the copy's WAL could not be emptied", path=target.name)
        _check_integrity(target)
        new = target.read_bytes()
    ensure_idle = is_busy or (lambda: False)
    sha = expected_sha256
    read_sha256: dict[str, str] = {}
    if folded is not None:
        merged, wal_sha256 = folded
        read_sha256[sidecars["-wal"].path] = wal_sha256
        if hashlib.sha256(merged).hexdigest() != sha:
            _ensure_idle(ensure_idle, item)
            item = connector.replace(item, [merged], Expected(item.size, item.version, sha), temp_name=temp_name)
            sha = hashlib.sha256(merged).hexdigest()
    removed = remove_side_files(connector, sidecars.values(), is_busy=ensure_idle, read_sha256=read_sha256)
    if hashlib.sha256(new).hexdigest() != sha:
        _ensure_idle(ensure_idle, item)
        connector.replace(item, [new], Expected(item.size, item.version, sha), temp_name=temp_name)
    return CopyEraseResult(result, hashlib.sha256(new).hexdigest(), removed)


def _ensure_idle(is_busy: Callable[[], bool], item: Item) -> None:
    """Raise `BusyError` when the app that owns the database runs (checked just before each laptop write)."""
    if is_busy():
        raise BusyError("the app that owns the database is running; retry when it is closed", path=item.path)


HOT_JOURNAL_MESSAGE = (
    "the database has an unfinished transaction (a non-empty -journal beside it); open the app once and "
    "close it (it finishes or rolls back the transaction), then run again"
)


def _journal_is_hot(head: bytes) -> bool:
    """Whether a rollback journal's first bytes make it one SQLite would roll back (non-empty, header not
    zeroed: `PRAGMA journal_mode = PERSIST` zeroes the header of a finished journal)."""
    return bool(head) and any(head[:28])


def _refuse_remote_hot_journal(connector: Connector, item: Item) -> None:
    journal = _stat_or_none(connector, item.path + "-journal")
    if journal is None or not journal.size:
        return
    with connector.open(journal) as stream:
        head = stream.read(28)
    if _journal_is_hot(head):
        raise UnsupportedOperationError(HOT_JOURNAL_MESSAGE, path=item.path, code="hot_journal")


def _refuse_local_hot_journal(path: Path) -> None:
    journal = path.with_name(path.name + "-journal")
    try:
        with journal.open("rb") as stream:
            head = stream.read(28)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise DatabaseError(f"cannot read the database's journal: {type(exc).__name__}", path=path.name) from exc
    if _journal_is_hot(head):
        raise UnsupportedOperationError(HOT_JOURNAL_MESSAGE, path=path.name, code="hot_journal")


def _merge_wal_copy(connector: Connector, wal: Item | None, copy: Path) -> tuple[bytes, str] | None:
    """Fold the laptop's WAL into the private `copy` of its database (checkpoint on the copy); returns the
    merged file's bytes and the sha256 of the WAL as it was read, or None when the laptop has no WAL content
    (nothing to merge)."""
    if wal is None or not wal.size:
        return None
    wal_copy = copy.with_name(copy.name + "-wal")
    with connector.open(wal) as stream, wal_copy.open("wb") as out:
        _copy(stream, out)
    if wal_copy.stat().st_size != wal.size:
        raise VersionConflictError("the database's WAL changed while it was read", path=wal.path)
    wal_sha256 = _file_sha(wal_copy)
    con = _open(copy, readonly=False)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error as exc:
        raise DatabaseError(f"cannot read database: {type(exc).__name__}", path=copy.name) from exc
    finally:
        con.close()
    if wal_copy.exists() and wal_copy.stat().st_size:
        raise DatabaseError("the copy's WAL could not be emptied", path=copy.name)
    return copy.read_bytes(), wal_sha256


def _check_integrity(path: Path) -> None:
    """`PRAGMA integrity_check` on the changed private copy: anything but `ok` is an error (never written)."""
    con = _open(path, readonly=True)
    try:
        rows = con.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.Error as exc:
        raise DatabaseError(f"cannot check database: {type(exc).__name__}", path=path.name) from exc
    finally:
        con.close()
    if rows != [("ok",)]:
        raise DatabaseError("the changed copy failed its integrity check", path=path.name)


def side_files(connector: Connector, path: str, suffixes: Sequence[str] = SIDE_FILES) -> dict[str, Item]:
    """The side files of the database at `path` that exist now, by suffix, as listed now (the baseline
    `remove_side_files` compares against)."""
    found: dict[str, Item] = {}
    for suffix in suffixes:
        item = _stat_or_none(connector, path + suffix)
        if item is not None:
            found[suffix] = item
    return found


def remove_side_files(
    connector: Connector,
    files: Iterable[Item],
    *,
    is_busy: Callable[[], bool],
    read_sha256: Mapping[str, str] | None = None,
) -> tuple[str, ...]:
    """Remove side files of a database (`side_files`), each only while it is as it was listed (size and
    version) and, for one whose content was read (`read_sha256`: path -> sha256 of what was read), while it
    still holds exactly that content (a version over SSH has whole seconds: a same-size rewrite within the
    second keeps it); and only after `is_busy` (the app that owns the database runs) said no just before it.

    Returns:
        The paths removed (a file already gone is not counted).

    Raises:
        BusyError: `is_busy` said the app runs (what was removed stays removed; nothing more is).
        VersionConflictError: a side file changed since it was listed (nothing more is removed).
    """
    removed = []
    for item in files:
        if is_busy():
            raise BusyError("the app that owns the database is running; retry when it is closed", path=item.path)
        sha256 = (read_sha256 or {}).get(item.path)
        if connector.delete(item, Expected(item.size, item.version, sha256)):
            removed.append(item.path)
    return tuple(removed)


def _file_sha(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
