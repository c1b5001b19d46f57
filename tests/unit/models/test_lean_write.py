"""The lean write (`models.lean_write`): its inserts name exactly the columns of the `models.tables` tables, and it
steps aside (None, nothing written) wherever the ORM path has to create, migrate or report."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import SQLModel

import models.tables  # noqa: F401 - registers every table
from models.db import get_engine
from models.errors import InputError
from models.lean_write import INSERT_COLUMNS, Writer, lean_write


def test_inserts_name_every_column_of_their_table() -> None:
    """One place knows the schema: a column added to (or renamed in) a table of `models.tables` that a lean insert
    writes fails here until the insert names it; only a table's own autoincrement id is left to the database."""
    for name, columns in INSERT_COLUMNS.items():
        table = SQLModel.metadata.tables[name]
        generated = {c.name for c in table.primary_key.columns if c.name == "id" and c.type.python_type is int}
        assert set(columns) == {c.name for c in table.columns} - generated, name
        assert len(set(columns)) == len(columns), name


def test_an_insert_naming_other_columns_is_refused(tmp_path: Path) -> None:
    """A row missing a column (or naming one the table lacks) is a programming error, not a partial row."""
    url = f"sqlite:///{tmp_path / 'dsr.db'}"
    get_engine(url)

    def write(db: Writer) -> bool:
        db.insert("audit_events", {"action": "x"})
        return True

    with pytest.raises(RuntimeError, match="must name exactly its columns"):
        lean_write(url, write)


def _event(db: Writer) -> bool:
    db.event("test.event", detail=1)
    return True


def _events(url: str) -> int:
    with get_engine(url).begin() as conn:
        return int(conn.execute(text("SELECT count(*) FROM audit_events")).scalar_one())


def test_a_database_not_at_the_newest_schema_or_missing_is_left_to_the_orm(tmp_path: Path) -> None:
    """No file (none is created), an empty file, an older revision: None and nothing written; once current, the
    write commits."""
    missing = tmp_path / "state" / "dsr.db"
    assert lean_write(f"sqlite:///{missing}", _event) is None
    assert not missing.exists() and not missing.parent.exists()
    database = tmp_path / "dsr.db"
    database.touch()
    assert lean_write(f"sqlite:///{database}", _event) is None
    url = f"sqlite:///{database}"
    get_engine(url)
    with sqlite3.connect(database) as conn:
        (revision,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        conn.execute("UPDATE alembic_version SET version_num = 'older'")
    assert lean_write(url, _event) is None
    assert _events(url) == 0
    with sqlite3.connect(database) as conn:
        conn.execute("UPDATE alembic_version SET version_num = ?", (revision,))
    assert lean_write(url, _event) is True
    assert _events(url) == 1


def test_nothing_is_written_when_the_write_declines_or_fails(database_url: str) -> None:
    """A write that gives None (the ORM path must answer) or raises leaves nothing behind, rows written before
    the refusal included; the error propagates."""

    def declines(db: Writer) -> None:
        _event(db)

    def fails(db: Writer) -> bool:
        _event(db)
        raise InputError("refused")

    get_engine(database_url)
    assert lean_write(database_url, declines) is None
    with pytest.raises(InputError, match="refused"):
        lean_write(database_url, fails)
    assert _events(database_url) == 0
    assert lean_write(database_url, _event) is True
    assert _events(database_url) == 1


def test_a_write_holds_the_sqlite_write_lock_from_its_first_read(tmp_path: Path) -> None:
    """What a write reads is still so when it commits: on SQLite the transaction takes the write lock first
    (`BEGIN IMMEDIATE`), so no other writer gets in between."""
    database = tmp_path / "dsr.db"
    url = f"sqlite:///{database}"
    get_engine(url)
    seen: list[bool] = []

    def write(db: Writer) -> bool:
        db.fetch("SELECT count(*) FROM legal_holds")
        other = sqlite3.connect(database, timeout=0.05)
        try:
            other.execute("BEGIN IMMEDIATE")
            seen.append(False)
        except sqlite3.OperationalError:
            seen.append(True)
        finally:
            other.close()
        return True

    assert lean_write(url, write) is True
    assert seen == [True]


@pytest.mark.parametrize(
    ("table", "values"),
    [
        ("erasure_plans", {"decision": "approved", "decided_by_someone": "x"}),
        ("requests", {"state": "executing"}),
        ("ledger_entries", {}),
        ("subject_access_log", {"at": None}),
    ],
)
def test_an_update_naming_other_columns_is_refused(tmp_path: Path, table: str, values: dict[str, object]) -> None:
    """An update naming a column its table lacks, no column, or a table without a column list is a programming
    error, raised before any statement runs (never a driver error that would leave the write to the ORM)."""
    url = f"sqlite:///{tmp_path / 'dsr.db'}"
    get_engine(url)

    def write(db: Writer) -> bool:
        db.update(table, values, "1 = 1")
        return True

    with pytest.raises(RuntimeError, match="must name some of its columns"):
        lean_write(url, write)


def test_every_table_a_lean_write_updates_has_its_columns_listed() -> None:
    """The tables the lean paths update (a hold's release, the locations, an approval's plan and request) are
    among those whose columns the first test compares with `models.tables`."""
    assert {"legal_holds", "locations", "erasure_plans", "requests"} <= set(INSERT_COLUMNS)


class _RefusingCommit(sqlite3.Connection):
    """A SQLite connection whose COMMIT fails (as one refused by a full disk would)."""

    def commit(self) -> None:
        raise sqlite3.OperationalError("database or disk is full")


def test_a_commit_sqlite_refuses_writes_nothing_and_is_left_to_the_orm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite's refused commit is not a write of unknown outcome (as PostgreSQL's is): nothing was written (the
    connection closes without committing), so the lean write gives None and the ORM path writes it."""
    from models import lean_read

    database = tmp_path / "dsr.db"
    url = f"sqlite:///{database}"
    get_engine(url)
    monkeypatch.setattr(
        lean_read, "_open_sqlite", lambda name: sqlite3.connect(name, timeout=10, factory=_RefusingCommit)
    )
    assert lean_write(url, _event) is None
    assert _events(url) == 0
