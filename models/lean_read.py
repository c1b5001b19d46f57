"""Lean reads of the case database for the commands that only read (`dsr request list|show|plan`, `dsr hold
list`): the DB-API driver and plain SELECTs, without SQLAlchemy or SQLModel (importing them takes most of a short
command's time). The commands that write a few rows use the same connection, schema check and conversions
(`lean_transaction`, with `models.lean_write.Writer`).

`read_requests` and `lean_read` answer only where they read exactly what the ORM would: an existing SQLite file,
or PostgreSQL through psycopg, already at the newest schema. Anything else (a database still to be created or
migrated, another URL form, a driver error) gives None, and the caller takes the ORM path, which creates,
migrates and reports errors as it always has. `lean_read` hands back rows with the attributes of the
`models.tables` rows, converted as the ORM converts them (`column_kind`; a test compares every table).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar
from urllib.parse import quote

from models.errors import DsrError

MIGRATIONS = Path(__file__).with_name("migrations")

_REVISION_RE = re.compile(r'^(down_)?revision\s*=\s*(?:"([^"]*)"|None)', re.MULTILINE)

#: The columns of `requests` read here, named as in `models.tables.Request`.
REQUEST_COLUMNS = (
    "id",
    "kind",
    "status",
    "received_at",
    "due_on",
    "target_on",
    "extended_due_on",
    "identity_requested_at",
    "identity_received_at",
)


@dataclass(frozen=True, slots=True)
class RequestRow:
    """The fields of one request that `dsr request list` shows (`models.lifecycle.RequestDates`)."""

    id: str
    kind: str
    status: str
    received_at: datetime
    due_on: date
    target_on: date
    extended_due_on: date | None
    identity_requested_at: datetime | None
    identity_received_at: datetime | None


@cache
def head_revision() -> str:
    """The newest migration's revision, read from the migration files (no Alembic import)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (MIGRATIONS / "versions").glob("*.py"):
        for down, value in _REVISION_RE.findall(script.read_text(encoding="utf-8")):
            if value:
                (parents if down else revisions).add(value)
    heads = revisions - parents
    if len(heads) != 1:
        raise RuntimeError(f"the case database migrations have {len(heads)} heads; expected one")
    return heads.pop()


T = TypeVar("T")


class Row(SimpleNamespace):
    """One row read by `Reader.rows`: its columns as attributes, with the values the ORM's row would have."""


def column_kind(name: str) -> str:
    """How a column's stored value is converted, from its name (the case database's naming rule, checked against
    every column of `models.tables` by a test): `at` and `*_at` are instants, `*_on`, `*_date` and `date_*` days,
    `active` and `dry_run` flags; anything else is read as the driver gives it."""
    if name == "at" or name.endswith("_at"):
        return "instant"
    if name.endswith(("_on", "_date")) or name.startswith("date_"):
        return "day"
    if name in ("active", "dry_run"):
        return "flag"
    return "plain"


class Reader:
    """SELECTs over one open connection of a current case database (`lean_read`)."""

    def __init__(self, conn: Any, placeholder: str) -> None:
        """Read through `conn`, a DB-API connection whose parameters are written `placeholder`."""
        self._conn = conn
        self._placeholder = placeholder

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The raw rows of a fixed statement of the caller (parameters written as `?`, values in `params`)."""
        return list(self._conn.execute(sql.replace("?", self._placeholder), tuple(params)).fetchall())

    def rows(
        self, table: str, where: str = "", params: Sequence[Any] = (), *, order: str = "", limit: int | None = None
    ) -> list[Row]:
        """`SELECT * FROM table [WHERE where] [ORDER BY order] [LIMIT limit]`; `where` writes parameters as `?`.

        `table`, `where` and `order` are fixed text of the caller, never a value: values go in `params`.
        """
        sql = f"SELECT * FROM {table}"  # noqa: S608 - fixed table and clause text; values are bound parameters
        if where:
            sql += " WHERE " + where.replace("?", self._placeholder)
        if order:
            sql += f" ORDER BY {order}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        cursor = self._conn.execute(sql, tuple(params))
        names = [d[0] for d in cursor.description]
        kinds = [column_kind(n) for n in names]
        return [
            Row(**{n: _convert(k, v) for n, k, v in zip(names, kinds, values, strict=True)})
            for values in cursor.fetchall()
        ]


def lean_read(url: str, read: Callable[[Reader], T | None]) -> T | None:
    """`read(reader)` over a current case database in one transaction, nothing written; None where the ORM path
    must answer (see the module's docstring) or where `read` gives None."""
    return lean_transaction(url, read, Reader)


def lean_transaction(
    url: str,
    action: Callable[[Any], T | None],
    handle: Callable[[Any, str], Reader],
    *,
    write: bool = False,
    on_error: Callable[[Exception], None] | None = None,
) -> T | None:
    """`action(handle(connection, placeholder))` over a current case database in one transaction: rolled back, or
    with `write` (and a `models.lean_write.Writer` as `handle`) committed when `action` returns a value. None,
    with nothing written, where the ORM path must answer: a URL form not handled here, no such SQLite file, a
    schema that is not the newest, a driver error before the commit, or `action` giving None (or, for a read,
    raising a `ValueError`); on SQLite also a commit it refuses, which leaves nothing written (SQLite commits in
    this process: a COMMIT that fails did not take effect, and closing the connection rolls the transaction back),
    so the ORM path may write it again. On PostgreSQL a failed commit raises a `DsrError` instead: the server may
    have committed before the connection failed, so the write is reported as unconfirmed, never written twice.
    Any other exception of `action` (a write's `DsrError`) rolls back and propagates.
    `on_error`, where given, is called with a driver error (or `ValueError`) once it is rolled back, before None
    is given: it may raise instead (the ledger store names the error's class)."""
    if url.startswith(("sqlite:///", "sqlite+pysqlite:///")):
        return _lean_sqlite(url.split(":///", 1)[1], action, handle, write, on_error)
    if url.startswith(("postgresql://", "postgresql+psycopg://")):
        return _lean_postgresql("postgresql://" + url.split("://", 1)[1], action, handle, write, on_error)
    return None


def _lean_sqlite(
    database: str,
    action: Callable[[Any], T | None],
    handle: Callable[[Any, str], Reader],
    write: bool,
    on_error: Callable[[Exception], None] | None,
) -> T | None:
    conn = _open_sqlite(database)
    if conn is None:
        return None
    try:
        if write:
            # What the ORM's engine sets on every connection (`models.db`), then the write lock before any read,
            # so that what is read is still so when the change commits.
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("BEGIN IMMEDIATE")
        else:
            conn.execute("BEGIN")  # one snapshot for the schema check and the rows
        if not _is_current(conn.execute("SELECT version_num FROM alembic_version").fetchall()):
            return None
        result = action(handle(conn, "?"))
        if write and result is not None:
            conn.commit()  # a commit SQLite refuses leaves nothing written (closing rolls back)
        return result
    except DsrError as exc:
        if write or not isinstance(exc, ValueError):  # a write's refusal is the caller's error
            raise
        if on_error is not None:
            on_error(exc)
        return None
    except (sqlite3.Error, ValueError) as exc:
        if on_error is not None:
            on_error(exc)
        return None
    finally:
        conn.close()


def _lean_postgresql(
    conninfo: str,
    action: Callable[[Any], T | None],
    handle: Callable[[Any, str], Reader],
    write: bool,
    on_error: Callable[[Exception], None] | None,
) -> T | None:
    try:
        import psycopg  # noqa: PLC0415 - only for a PostgreSQL case database
    except ImportError:
        return None
    try:
        conn = psycopg.connect(conninfo)
    except psycopg.Error as exc:
        if on_error is not None:
            on_error(exc)
        return None
    with conn:
        try:
            if not _is_current(conn.execute("SELECT version_num FROM alembic_version").fetchall()):
                _rollback(conn, psycopg.Error)
                return None
            result = action(handle(conn, "%s"))
        except DsrError as exc:
            _rollback(conn, psycopg.Error)
            if write or not isinstance(exc, ValueError):
                raise
            if on_error is not None:
                on_error(exc)
            return None
        except (psycopg.Error, ValueError) as exc:
            _rollback(conn, psycopg.Error)
            if on_error is not None:
                on_error(exc)
            return None
        if not write or result is None:
            _rollback(conn, psycopg.Error)
            return result
        try:
            conn.commit()
        except psycopg.Error as exc:  # not retried through the ORM: whether it took effect is then unknown
            raise DsrError(
                f"the case database did not confirm the write ({type(exc).__name__}); check what was recorded "
                "(`dsr request list`, `dsr hold list`, `dsr ledger verify`) before retrying"
            ) from None
        return result


def _rollback(conn: Any, lost: type[Exception]) -> None:
    """Roll back, where the connection is still there: a server the connection lost rolls back on its own, and the
    condition that led here (the driver error, a refusal) is the one to report, not the failed rollback's."""
    with suppress(lost):
        conn.rollback()


def _convert(kind: str, value: object) -> object:
    if value is None or kind == "plain":
        return value
    if kind == "instant":
        return _instant(value)
    if kind == "day":
        return _day(value)
    return bool(value)


def read_requests(url: str, *, status: str | None = None) -> list[RequestRow] | None:
    """Requests newest first (only those in `status` if given), or None where the ORM path must answer."""

    def read(reader: Reader) -> list[RequestRow]:
        return [_row(r) for r in reader.fetch(_select(status), () if status is None else (status,))]

    return lean_read(url, read)


def _select(status: str | None) -> str:
    where = " WHERE status = ?" if status is not None else ""
    return f"SELECT {', '.join(REQUEST_COLUMNS)} FROM requests{where} ORDER BY received_at DESC"  # noqa: S608 - fixed column names; the status is a bound parameter


def _open_sqlite(database: str) -> sqlite3.Connection | None:
    """An existing SQLite file opened read-write (never created); None for URI names, query options, `:memory:`."""
    if not database or database == ":memory:" or database.startswith("file:") or any(c in database for c in "?%"):
        return None
    try:
        return sqlite3.connect(f"file:{quote(database)}?mode=rw", uri=True, timeout=10)
    except sqlite3.Error:
        return None


def _is_current(rows: list[Any]) -> bool:
    return [row[0] for row in rows] == [head_revision()]


def _row(values: Any) -> RequestRow:
    """One row as the ORM reads it: SQLite gives text (instants stored in UTC without offset), psycopg values."""
    rid, kind, status, received, due, target, extended, asked, arrived = values
    return RequestRow(
        id=str(rid),
        kind=str(kind),
        status=str(status),
        received_at=_instant(received),
        due_on=_day(due),
        target_on=_day(target),
        extended_due_on=None if extended is None else _day(extended),
        identity_requested_at=None if asked is None else _instant(asked),
        identity_received_at=None if arrived is None else _instant(arrived),
    )


def _instant(value: object) -> datetime:
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _day(value: object) -> date:
    if isinstance(value, datetime):
        raise ValueError(f"expected a date, got an instant {value!r}")
    return value if isinstance(value, date) else date.fromisoformat(str(value))
