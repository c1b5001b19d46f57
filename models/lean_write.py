"""Lean writes of the case database for the commands that write a few rows (`dsr hold add|release`, `dsr ledger
head|export`): the DB-API driver and plain INSERT/UPDATE statements, without SQLAlchemy or SQLModel, over the
connection, schema check and conversions of `models.lean_read` (`lean_write`).

They write exactly the rows the ORM path writes: the values are built by the functions both paths call (here:
the audit event and the locations of the configuration; `models.holds`, `proofs.entry` for theirs), every
insert names every column of its table (`INSERT_COLUMNS`, compared with `models.tables` by a test), and values are
stored as SQLAlchemy stores them (`_bind`). On SQLite the whole change runs under `BEGIN IMMEDIATE`, so what it
read is still so when it commits; on PostgreSQL in one transaction as the ORM's session does. A caller that finds
the request, the hold or the plan not as expected gives None: nothing is written and the ORM path runs, which
names the problem with its own message.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from models.lean_read import Reader, column_kind, lean_transaction
from models.settings import Settings

T = TypeVar("T")

#: The columns of every table a lean write inserts into or updates: every column of the `models.tables` table
#: except an autoincrement `id` (a test compares them, so a column added to a table fails it until the lean insert
#: writes it too, and a column renamed fails it before an update names the old one).
INSERT_COLUMNS: dict[str, tuple[str, ...]] = {
    "audit_events": ("at", "actor", "action", "request_id", "outcome", "details"),
    "erasure_plans": (
        "request_id",
        "digest",
        "plan_json",
        "summary_json",
        "created_at",
        "decision",
        "decided_by",
        "decided_at",
        "note",
        "executed_at",
    ),
    "legal_holds": (
        "id",
        "reason",
        "case_reference",
        "approver",
        "review_date",
        "subjects",
        "endpoints",
        "paths",
        "date_from",
        "date_to",
        "source",
        "created_at",
        "released_at",
        "released_by",
    ),
    "locations": ("name", "kind", "url", "os", "group", "active", "synced_at"),
    "requests": (
        "id",
        "kind",
        "status",
        "received_at",
        "channel",
        "calendar",
        "algorithm_version",
        "due_on",
        "target_on",
        "extended_due_on",
        "extension_notified_at",
        "extension_reasons",
        "identity_method",
        "identity_outcome",
        "identity_requested_at",
        "identity_received_at",
        "representative",
        "representative_authority",
        "authority_reference",
        "refusal_ground",
        "refusal_reason",
        "report_path",
        "package_sha256",
        "certificate_path",
        "created_at",
        "updated_at",
        "closed_at",
    ),
    "request_keys": ("request_id", "wrapped_key", "created_at", "destroyed_at"),
    "subject_identifiers": ("request_id", "kind", "value", "normalized", "keyed_hash", "pseudonymised_at"),
    "ledger_entries": (
        "seq",
        "request_id",
        "run_id",
        "action",
        "location",
        "path",
        "version_id",
        "sha256_before",
        "sha256_after",
        "counts",
        "exception_ground",
        "verification",
        "outcome",
        "actor",
        "policy_version",
        "details",
        "idempotency_key",
        "at",
        "prev_hash",
        "entry_hash",
    ),
    "ledger_checkpoints": ("seq_from", "seq_to", "head_hash", "at", "key_id", "signature", "prev_checkpoint"),
}

#: How SQLAlchemy stores an instant in SQLite (`sqlalchemy.dialects.sqlite.DATETIME`'s storage format, UTC).
_SQLITE_INSTANT = "%Y-%m-%d %H:%M:%S.%f"


def utcnow() -> datetime:
    """The current aware UTC time (as `models.tables.utcnow`, which is this function)."""
    return datetime.now(UTC)


def current_actor() -> str:
    """The acting identity recorded on audit events: `$DSR_ACTOR`, else the OS user."""
    return os.environ.get("DSR_ACTOR") or getpass.getuser()


def audit_event_values(
    action: str, *, request_id: str | None = None, outcome: str = "success", actor: str | None = None, **details: Any
) -> dict[str, Any]:
    """The columns of one `audit_events` row (its `id` is the database's): what `models.cases.record_event` adds
    and `Writer.event` inserts. No personal data in details."""
    return {
        "at": utcnow(),
        "actor": actor or current_actor(),
        "action": action,
        "request_id": request_id,
        "outcome": outcome,
        "details": json.dumps(details, sort_keys=True, default=str),
    }


def configured_locations(settings: Settings) -> dict[str, dict[str, Any]]:
    """The `locations` rows the configuration asks for (without `active` and `synced_at`), by name."""
    wanted: dict[str, dict[str, Any]] = {}
    for ep in settings.endpoints:
        wanted[ep.name] = {"kind": "endpoint", "url": ep.url, "os": ep.os, "group": ep.group}
    for st in settings.stores:
        wanted[st.name] = {"kind": "store", "url": st.url, "os": None, "group": None}
    return wanted


def _bind(name: str, value: Any, sqlite: bool) -> Any:
    """`value` of column `name` as SQLAlchemy binds it: on SQLite, instants as UTC text, days as ISO text and flags
    as 0/1; psycopg takes the Python values as they are."""
    if value is None or not sqlite:
        return value
    kind = column_kind(name)
    if kind == "instant":
        at = value.astimezone(UTC) if value.tzinfo is not None else value
        return at.strftime(_SQLITE_INSTANT)
    if kind == "day":
        if isinstance(value, datetime) or not isinstance(value, date):
            raise TypeError(f"{name}: expected a date, got {type(value).__name__}")
        return value.isoformat()
    if kind == "flag":
        return int(bool(value))
    return value


def _quoted(name: str) -> str:
    return f'"{name}"'  # `group` is a keyword


class Writer(Reader):
    """INSERT and UPDATE statements (and `Reader`'s SELECTs) in one write transaction of a current case database."""

    @property
    def is_sqlite(self) -> bool:
        """Whether this is SQLite (parameters written `?`)."""
        return self._placeholder == "?"

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a fixed statement of the caller (parameters written as `?`); the number of rows it changed."""
        cursor = self._conn.execute(sql.replace("?", self._placeholder), tuple(params))
        return int(cursor.rowcount)

    def insert(self, table: str, values: Mapping[str, Any], *, on_conflict_do_nothing: bool = False) -> int:
        """Insert one row of `table` naming exactly its `INSERT_COLUMNS`; the number of rows inserted.

        Raises:
            RuntimeError: `values` names other columns than the table's (a programming error, never data).
        """
        columns = INSERT_COLUMNS[table]
        if set(values) != set(columns):
            raise RuntimeError(f"a lean insert into {table} must name exactly its columns")
        names = ", ".join(_quoted(c) for c in columns)
        marks = ", ".join("?" for _ in columns)
        conflict = " ON CONFLICT DO NOTHING" if on_conflict_do_nothing else ""
        sql = f"INSERT INTO {table} ({names}) VALUES ({marks}){conflict}"  # noqa: S608 - fixed names; values are bound
        return self.execute(sql, [_bind(c, values[c], self.is_sqlite) for c in columns])

    def update(self, table: str, values: Mapping[str, Any], where: str, params: Sequence[Any] = ()) -> int:
        """`UPDATE table SET values WHERE where` (fixed text of the caller, parameters as `?`); rows changed.

        Raises:
            RuntimeError: `table` has no `INSERT_COLUMNS`, or `values` names a column it does not list (a
                programming error, never data).
        """
        known = INSERT_COLUMNS.get(table)
        if known is None or not values or set(values) - set(known):
            raise RuntimeError(f"a lean update of {table} must name some of its columns (INSERT_COLUMNS)")
        sets = ", ".join(f"{_quoted(c)} = ?" for c in values)
        sql = f"UPDATE {table} SET {sets} WHERE {where}"  # noqa: S608 - fixed names and clause; values are bound
        return self.execute(sql, [*(_bind(c, v, self.is_sqlite) for c, v in values.items()), *params])

    def event(self, action: str, **fields: Any) -> None:
        """Insert an audit event (`audit_event_values`), in the transaction of the change it records."""
        self.insert("audit_events", audit_event_values(action, **fields))

    def sync_locations(self, settings: Settings) -> None:
        """What `models.cases.sync_locations` does at the start of every command's session: the `locations` rows
        mirror the configuration (missing ones inserted, the others marked inactive, every configured one synced
        now)."""
        wanted = configured_locations(settings)
        existing = [row[0] for row in self.fetch("SELECT name FROM locations")]
        for name in existing:
            if name not in wanted:
                self.update("locations", {"active": False}, "name = ?", (name,))
        for name, row in wanted.items():
            self.insert(
                "locations", {"name": name, **row, "active": True, "synced_at": utcnow()}, on_conflict_do_nothing=True
            )
            self.update("locations", {**row, "active": True, "synced_at": utcnow()}, "name = ?", (name,))


def lean_write(
    url: str, write: Callable[[Writer], T | None], *, on_error: Callable[[Exception], None] | None = None
) -> T | None:
    """`write(writer)` over a current case database in one transaction, committed when it gives a value; None,
    with nothing written, where the ORM path must run instead (`models.lean_read.lean_transaction`, which calls
    `on_error` with a driver error first)."""
    return lean_transaction(url, write, Writer, write=True, on_error=on_error)
