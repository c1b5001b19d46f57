"""The lean read of `dsr request list` (DB-API driver, one SELECT) reads what the ORM reads, on SQLite and
PostgreSQL, and steps aside (None) wherever the ORM path has to create, migrate or report."""

from __future__ import annotations

import dataclasses
import sqlite3
from contextlib import suppress
from datetime import UTC, date, datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.dialects import sqlite
from sqlmodel import select

from models import cases
from models.db import get_engine, session_scope
from models.identifiers import validate_identifier
from models.lean_read import REQUEST_COLUMNS, Reader, RequestRow, column_kind, head_revision, lean_read, read_requests
from models.lifecycle import RequestDates, request_summary
from models.settings import Settings
from models.tables import Request
from models.types import IdentifierKind, RequestKind, RequestStatus

SETTINGS = Settings()


def test_columns_are_those_of_the_requests_table() -> None:
    """One place knows the schema: every column read is a column of `models.tables.Request`, the row has exactly
    those fields, and they cover everything the life-cycle rules read of a request."""
    table_columns = set(Request.__table__.columns.keys())  # type: ignore[attr-defined]
    assert set(REQUEST_COLUMNS) <= table_columns
    assert Request.__tablename__ == "requests"
    assert tuple(f.name for f in dataclasses.fields(RequestRow)) == REQUEST_COLUMNS
    read_by_rules = {name for name in vars(RequestDates) if not name.startswith("_")}
    assert read_by_rules == set(REQUEST_COLUMNS)


def _submit(url: str, received: datetime, kind: RequestKind = RequestKind.ACCESS) -> str:
    with session_scope(url) as session:
        request = cases.submit_request(
            session,
            SETTINGS,
            kind=kind,
            identifiers=[validate_identifier(IdentifierKind.EMAIL, "someone@example.invalid")],
            hmac_key=b"k" * 32,
            master_key=b"m" * 32,
            received_at=received,
        )
        return request.id


def _orm(url: str, status: RequestStatus | None = None) -> list[Request]:
    with session_scope(url) as session:
        return cases.list_requests(session, status=status)


def test_rows_and_summaries_match_the_orm(database_url: str) -> None:
    """Extended, waiting for identity, closed, received with an offset and with microseconds: the lean rows
    carry the same values as the ORM's, in the same order, and give the same `request list` summaries."""
    extended = _submit(database_url, datetime(2025, 1, 31, 10, 0, 0, 123456, tzinfo=UTC))
    with session_scope(database_url) as session:
        cases.extend_request(session, SETTINGS, extended, reason="complex", now=datetime(2025, 2, 10, tzinfo=UTC))
    asked = _submit(database_url, datetime(2025, 2, 3, 9, 0, tzinfo=timezone(timedelta(hours=2))), RequestKind.ERASURE)
    with session_scope(database_url) as session:
        row = cases.get_request(session, asked)
        row.identity_requested_at = datetime(2025, 2, 4, 8, 30, tzinfo=UTC)
        session.add(row)
    closed = _submit(database_url, datetime(2025, 1, 2, 8, 0, tzinfo=UTC))
    with session_scope(database_url) as session:
        cases.withdraw_request(session, closed)
    _submit(database_url, datetime(2025, 2, 20, 23, 59, 59, tzinfo=UTC))

    for status in (None, RequestStatus.IDENTITY_PENDING, RequestStatus.WITHDRAWN, RequestStatus.COMPLETED):
        lean = read_requests(database_url, status=None if status is None else status.value)
        assert lean is not None
        orm = _orm(database_url, status)
        assert [dataclasses.astuple(r) for r in lean] == [tuple(getattr(o, c) for c in REQUEST_COLUMNS) for o in orm]
        for today in (date(2025, 2, 15), date(2025, 3, 15), date(2025, 6, 1)):
            assert [request_summary(r, today) for r in lean] == [request_summary(o, today) for o in orm]
    assert [r.id for r in read_requests(database_url) or []][:1] == [f"DSR-2025-{4:04d}"]


def test_a_missing_sqlite_file_is_left_to_the_orm_and_not_created(tmp_path: Path) -> None:
    """No file: None, and no file made (the ORM path creates it with mode 0600 and says so)."""
    database = tmp_path / "state" / "dsr.db"
    assert read_requests(f"sqlite:///{database}") is None
    assert not database.exists() and not database.parent.exists()


def test_a_database_not_at_the_newest_schema_is_left_to_the_orm(tmp_path: Path) -> None:
    """An empty file, an older revision: None (the ORM path migrates first); once current, the lean read answers."""
    database = tmp_path / "dsr.db"
    database.touch()
    assert read_requests(f"sqlite:///{database}") is None
    url = f"sqlite:///{database}"
    get_engine(url)
    assert read_requests(url) == []
    with get_engine(url).begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    assert read_requests(url) is None
    with sqlite3.connect(database) as conn:
        conn.execute("UPDATE alembic_version SET version_num = ?", (head_revision(),))
    assert read_requests(url) == []


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:///file:dsr.db?mode=ro&uri=true",
        "sqlite:///with%20escape.db",
        "mysql://user@127.0.0.1/dsr",
        "postgresql+psycopg2://user@127.0.0.1/dsr",
        "postgresql://nobody@127.0.0.1:1/nothing",
    ],
)
def test_other_urls_and_unreachable_servers_are_left_to_the_orm(url: str) -> None:
    """URL forms the lean read does not handle, and a server that refuses, give None (the ORM path names the error)."""
    assert read_requests(url) is None


def test_column_kinds_follow_the_tables() -> None:
    """The naming rule of `column_kind` holds for every column of every table: instants are `at`/`*_at`, days
    `*_on`/`*_date`/`date_*`, flags `active`/`dry_run`, and no other column has one of those types."""
    from sqlmodel import SQLModel

    import models.tables  # noqa: F401 - registers every table

    expected = {"DATETIME": "instant", "DATE": "day", "BOOLEAN": "flag"}
    for table in SQLModel.metadata.tables.values():
        for column in table.columns:
            type_name = column.type.compile(dialect=sqlite.dialect())
            want = expected.get(type_name, "plain")
            assert column_kind(column.name) == want, f"{table.name}.{column.name} is {type_name}"


def test_rows_of_every_table_read_as_the_orm_reads_them(database_url: str) -> None:
    """Every column of a request, its identifier, key, audit event, scan, plan, hold and ledger rows: the lean
    reader's values are the ORM's (instants aware in UTC, as `UTCDateTime` reads them)."""
    from models.holds import add_hold
    from models.tables import AuditEvent, ErasurePlanRecord, LedgerEntry, LegalHold, LocationScan, RequestKey
    from models.tables import SubjectIdentifier as Identifier

    rid = _submit(database_url, datetime(2025, 1, 31, 10, 0, 0, 123456, tzinfo=UTC))
    with session_scope(database_url) as session:
        session.add(LocationScan(request_id=rid, location="laptop", status="scanned", attempts=2, findings=3))
        session.add(ErasurePlanRecord(request_id=rid, digest="d" * 64, plan_json="{}", summary_json="[]"))
        session.add(
            LedgerEntry(
                seq=1, action="purge", at=datetime(2025, 2, 1, tzinfo=UTC), prev_hash="0" * 64, entry_hash="e" * 64
            )
        )
        add_hold(
            session, SETTINGS, hold_id="LH-1", reason="r", case_reference="c", approver="a",
            review_date=date(2026, 1, 1), date_from=date(2025, 1, 1),
        )  # fmt: skip
    tables = (Request, Identifier, RequestKey, AuditEvent, LocationScan, ErasurePlanRecord, LegalHold, LedgerEntry)
    for table in tables:
        sa_table: Any = table.__table__  # type: ignore[union-attr]
        name = str(sa_table.name)
        lean = lean_read(database_url, partial(Reader.rows, table=name))
        with session_scope(database_url) as session:
            orm = session.exec(select(table)).all()
        assert lean is not None and len(lean) == len(orm) > 0, name
        for lean_row, orm_row in zip(lean, orm, strict=True):
            for column in (c.name for c in sa_table.columns):
                want = getattr(orm_row, column)
                if isinstance(want, datetime) and want.tzinfo is None:  # the ledger's plain DateTime on SQLite
                    want = want.replace(tzinfo=UTC)
                assert getattr(lean_row, column) == want, f"{name}.{column}"
                assert type(getattr(lean_row, column)) is type(want), f"{name}.{column}"


def _dropped(db: Reader) -> None:
    """The connection lost under the statement (PostgreSQL: the server ends this session)."""
    db.fetch("SELECT pg_terminate_backend(pg_backend_pid())")


def _dropped_then_refused(db: Reader) -> None:
    from models.errors import InvalidTransitionError

    with suppress(Exception):  # the driver's error, whichever: the refusal below is what counts
        _dropped(db)
    raise InvalidTransitionError("refused after the connection was lost")


def test_a_dropped_postgresql_connection_is_left_to_the_orm_or_keeps_the_refusal(database_url: str) -> None:
    """The connection is lost during the statement: the rollback that follows cannot reach the server, which
    never confirmed anything; a read (and a write) gives None and the ORM path reports the condition in one line,
    and a refusal raised after it stays the refusal, never the driver's error of the failed rollback."""
    from models.errors import InvalidTransitionError
    from models.lean_write import lean_write

    if not database_url.startswith("postgresql"):
        pytest.skip("a PostgreSQL connection")
    assert lean_read(database_url, _dropped) is None
    assert lean_write(database_url, _dropped) is None
    with pytest.raises(InvalidTransitionError, match="refused after the connection was lost"):
        lean_write(database_url, _dropped_then_refused)
