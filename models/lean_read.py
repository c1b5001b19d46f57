"""A lean read of the case database for `dsr request list`: the DB-API driver and one SELECT, without SQLAlchemy
or SQLModel (importing them takes most of a short command's time).

`read_requests` answers only where it reads exactly what the ORM would: an existing SQLite file, or PostgreSQL
through psycopg, already at the newest schema. Anything else (a database still to be created or migrated,
another URL form, a driver error) gives None, and the caller takes the ORM path, which creates, migrates and
reports errors as it always has. The columns are those of `models.tables.Request` (a test compares them).
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

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


def read_requests(url: str, *, status: str | None = None) -> list[RequestRow] | None:
    """Requests newest first (only those in `status` if given), or None where the ORM path must answer."""
    if url.startswith(("sqlite:///", "sqlite+pysqlite:///")):
        return _read_sqlite(url.split(":///", 1)[1], status)
    if url.startswith(("postgresql://", "postgresql+psycopg://")):
        return _read_postgresql("postgresql://" + url.split("://", 1)[1], status)
    return None


def _select(placeholder: str, status: str | None) -> str:
    where = f" WHERE status = {placeholder}" if status is not None else ""
    return f"SELECT {', '.join(REQUEST_COLUMNS)} FROM requests{where} ORDER BY received_at DESC"  # noqa: S608 - fixed column names; the status is a bound parameter


def _read_sqlite(database: str, status: str | None) -> list[RequestRow] | None:
    """Read an existing SQLite file (never create one): URI names, query options and `:memory:` go to the ORM."""
    if not database or database == ":memory:" or database.startswith("file:") or any(c in database for c in "?%"):
        return None
    try:
        conn = sqlite3.connect(f"file:{quote(database)}?mode=rw", uri=True, timeout=10)
    except sqlite3.Error:
        return None
    try:
        conn.execute("BEGIN")  # one snapshot for the schema check and the rows
        if not _is_current(conn.execute("SELECT version_num FROM alembic_version").fetchall()):
            return None
        rows = conn.execute(_select("?", status), () if status is None else (status,)).fetchall()
        return [_row(r) for r in rows]
    except (sqlite3.Error, ValueError):
        return None
    finally:
        conn.close()


def _read_postgresql(conninfo: str, status: str | None) -> list[RequestRow] | None:
    """Read PostgreSQL with psycopg (the driver SQLAlchemy uses here); one transaction, nothing written."""
    try:
        import psycopg  # noqa: PLC0415 - only for a PostgreSQL case database
    except ImportError:
        return None
    try:
        with psycopg.connect(conninfo) as conn:
            if not _is_current(conn.execute("SELECT version_num FROM alembic_version").fetchall()):
                return None
            rows = conn.execute(_select("%s", status), () if status is None else (status,)).fetchall()
            conn.rollback()
        return [_row(r) for r in rows]
    except (psycopg.Error, ValueError):
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
