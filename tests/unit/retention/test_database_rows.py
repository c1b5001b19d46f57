"""Conversations kept as rows of an agent's database, under a whole-conversation policy: `dsr retention run`
deletes the expired, unheld ones from the database (and its `.backup` copy, WAL and full-text index) and
leaves fresh and held conversations of the same database untouched; the certificate lists each once."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.registry import open_location
from connectors.sqlite_store import delete_rows
from dsr.cli import register
from dsr.context import state
from erasure.executor import ActionStatus
from models.settings import EndpointSettings, HoldSettings, RetentionPolicy, Settings
from proofs.ledger import Ledger, LedgerAction
from proofs.store import JsonlLedgerStore
from retention.execute import execute_purge
from retention.plan import plan_purge

app = register()
NOW = datetime(2026, 11, 1, tzinfo=UTC)
HOME = "Users/ana"
CURSOR_DB = f"{HOME}/Library/Application Support/Cursor/User/globalStorage/state.vscdb"
CODEX_DB = f"{HOME}/.codex/state_5.sqlite"
EXPIRED = (b"ZqxExpiredAlpha", b"ZqxExpiredDelta")  # content of the expired conversations only
KEPT = (b"ZqxHeldBravo", b"ZqxFreshCharlie", b"ZqxFreshEcho", b"ZqxSettingGolf")
CONFIG = """
[[endpoints]]
name = "mac"
url = "{laptop}"
os = "macos"

[[retention]]
name = "conversations"
unit = "conversation"
period_days = 30
version = "7"

[disposition]
review = false

[[holds]]
id = "LH-7"
reason = "pending litigation"
case_reference = "CASE-7"
approver = "dpo"
review_date = "2027-06-01"
endpoints = ["mac"]
date_from = "2026-03-01"
date_to = "2026-03-31"
"""


def _ms(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() * 1000)


def _bubble(cid: str, day: str, text: str) -> tuple[str, str]:
    body = {"_v": 3, "type": 1, "bubbleId": "b1", "text": text, "createdAt": f"{day}T10:00:00.000Z"}
    return f"bubbleId:{cid}:b1", json.dumps(body)


def _composer(cid: str, day: str) -> tuple[str, str]:
    return f"composerData:{cid}", json.dumps({"composerId": cid, "name": "chat", "lastUpdatedAt": _ms(day)})


def _database(path: Path, schema: str, rows: dict[str, list[tuple[object, ...]]], *, wal: bool) -> None:
    """A database whose last rows sit only in its WAL (copied while open, as with a running app), if `wal`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    if wal:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA wal_autocheckpoint=0")
    con.executescript(schema)
    for table, values in rows.items():
        for row in values:
            con.execute(f"INSERT INTO {table} VALUES ({','.join('?' * len(row))})", row)  # noqa: S608 - fixed tables
    con.commit()
    kept = {
        s: path.with_name(path.name + s).read_bytes() for s in ("", "-wal") if path.with_name(path.name + s).exists()
    }
    con.close()
    for suffix, data in kept.items():
        path.with_name(path.name + suffix).write_bytes(data)
    path.with_name(path.name + "-shm").unlink(missing_ok=True)


def _laptop(laptop: Path) -> None:
    cursor_rows = {
        "cursorDiskKV": [
            _composer("c-old", "2026-01-05"),
            _bubble("c-old", "2026-01-05", "ZqxExpiredAlpha login fails"),
            _composer("c-held", "2026-03-10"),
            _bubble("c-held", "2026-03-10", "ZqxHeldBravo contract"),
            _composer("c-new", "2026-10-20"),
            _bubble("c-new", "2026-10-20", "ZqxFreshCharlie today"),
        ],
        "ItemTable": [("workbench.setting", "ZqxSettingGolf")],
    }
    schema = (
        "CREATE TABLE ItemTable(key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB);"
        "CREATE TABLE cursorDiskKV(key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB);"
    )
    _database(laptop / CURSOR_DB, schema, cursor_rows, wal=True)
    _database(laptop / (CURSOR_DB + ".backup"), schema, cursor_rows, wal=False)
    old, new = _ms("2026-02-01") // 1000, _ms("2026-10-25") // 1000
    _database(
        laptop / CODEX_DB,
        "CREATE TABLE threads(id TEXT PRIMARY KEY, rollout_path TEXT, created_at INTEGER, updated_at INTEGER,"
        " title TEXT, first_user_message TEXT);"
        "CREATE VIRTUAL TABLE thread_search USING fts5(thread_id UNINDEXED, body);",
        {
            "threads": [
                ("t-old", "r1", old, old, "ZqxExpiredDelta", "ZqxExpiredDelta seed"),
                ("t-new", "r2", new, new, "ZqxFreshEcho", "ZqxFreshEcho seed"),
            ],
            "thread_search": [("t-old", "ZqxExpiredDelta seed"), ("t-new", "ZqxFreshEcho seed")],
        },
        wal=True,
    )


def _raw(laptop: Path) -> bytes:
    """Every byte of the databases, their WALs and journals (lower-cased: FTS keeps lower-case tokens)."""
    files = [p for p in laptop.rglob("*") if p.is_file()]
    return b"".join(p.read_bytes() for p in sorted(files)).lower()


def _rows(path: Path, table: str) -> set[tuple[object, ...]]:
    con = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        return set(con.execute(f"SELECT * FROM {table}").fetchall())  # noqa: S608 - fixed tables
    finally:
        con.close()


@pytest.fixture
def config(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], Path]:
    laptop = tmp_path / "laptop"
    _laptop(laptop)
    path = tmp_path / "dsr.toml"
    path.write_text(CONFIG.format(laptop=laptop.as_uri()), encoding="utf-8")
    monkeypatch.setenv("DSR_DATABASE_URL", database_url)
    monkeypatch.setattr(state, "_settings", None)
    return ["--config", str(path)], laptop


def test_expired_conversations_are_deleted_from_the_database(config: tuple[list[str], Path], tmp_path: Path) -> None:
    args, laptop = config
    raw = _raw(laptop)
    assert all(word.lower() in raw for word in EXPIRED + KEPT)
    assert (laptop / (CURSOR_DB + "-wal")).stat().st_size, "the rows must sit in the WAL before the run"
    kept_rows = {
        key: value
        for key, value in _rows(laptop / CURSOR_DB, "cursorDiskKV")
        if not str(key).split(":")[1].startswith("c-old")
    }
    runner = CliRunner()
    raw = _raw(laptop)  # after the test's own read (which adds a -shm index)

    plan = runner.invoke(app, [*args, "retention", "plan", "--as-of", "2026-11-01", "--json"])
    assert plan.exit_code == 0, plan.output
    planned = {
        (c["conversation"], c["path"].rsplit("/", 1)[1], c["status"]) for c in json.loads(plan.output)["candidates"]
    }
    assert planned == {
        ("c-old", "state.vscdb", "purge"),
        ("c-old", "state.vscdb.backup", "purge"),
        ("c-held", "state.vscdb", "retained"),
        ("c-held", "state.vscdb.backup", "retained"),
        ("t-old", "state_5.sqlite", "purge"),
    }
    assert _raw(laptop) == raw, "a plan changes nothing"

    result = runner.invoke(app, [*args, "retention", "run", "--as-of", "2026-11-01"])
    assert result.exit_code == 0, result.output
    assert "complete; 2 conversation(s) disposed" in result.output

    after = _raw(laptop)
    for word in EXPIRED:
        assert word.lower() not in after, word  # not in the databases, their WALs, free pages or FTS indexes
    assert all(word.lower() in after for word in KEPT)
    for db in (CURSOR_DB, CURSOR_DB + ".backup"):
        assert dict(_rows(laptop / db, "cursorDiskKV")) == kept_rows
        assert _rows(laptop / db, "ItemTable") == {("workbench.setting", "ZqxSettingGolf")}
    assert {r[0] for r in _rows(laptop / CODEX_DB, "threads")} == {"t-new"}
    con = sqlite3.connect(laptop / CODEX_DB)
    assert con.execute("SELECT thread_id FROM thread_search WHERE thread_search MATCH 'zqxfreshecho'").fetchall() == [
        ("t-new",)
    ]
    assert con.execute("SELECT count(*) FROM thread_search WHERE thread_search MATCH 'zqxexpireddelta'").fetchone() == (
        0,
    )
    con.close()
    wal = laptop / (CURSOR_DB + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0

    certificate = json.loads(next(tmp_path.rglob("disposal-*.json")).read_text(encoding="utf-8"))
    listed = [(c["location"], c["conversation"]) for c in certificate["disposed"]]
    assert sorted(listed) == [("mac", "c-old"), ("mac", "t-old")]
    old = next(c for c in certificate["disposed"] if c["conversation"] == "c-old")
    assert sorted(f["path"].rsplit("/", 1)[1] for f in old["files"]) == ["state.vscdb", "state.vscdb.backup"]
    assert all(f["rows"] == 2 for f in old["files"])
    held = [k for k in certificate["kept"] if k.get("conversation") == "c-held"]
    assert len(held) == 2 and {k["why"] for k in held} == {"legal hold"}
    assert "zqx" not in json.dumps(certificate).lower()

    settled = _raw(laptop)
    again = runner.invoke(app, [*args, "retention", "run", "--as-of", "2026-11-01"])
    assert again.exit_code == 0 and "0 conversation(s) disposed" in again.output
    assert _raw(laptop) == settled


def test_nothing_is_deleted_while_the_agent_runs(config: tuple[list[str], Path]) -> None:
    """The app must be closed: with the laptop busy the rows stay and the run is partial."""
    args, laptop = config
    (laptop / ".dsr-simulated-busy").write_text("", encoding="utf-8")
    before = {p: p.read_bytes() for p in laptop.rglob("*") if p.is_file()}
    result = CliRunner().invoke(app, [*args, "retention", "run", "--as-of", "2026-11-01"])
    assert result.exit_code == 0, result.output
    assert "partial" in result.output
    assert {p: p.read_bytes() for p in laptop.rglob("*") if p.is_file()} == before


def _direct(tmp_path: Path) -> tuple[Settings, Path]:
    laptop = tmp_path / "laptop"
    _laptop(laptop)
    policy = RetentionPolicy(name="conversations", unit="conversation", period_days=30, version="7")
    hold = HoldSettings(
        id="LH-7",
        reason="pending litigation",
        case_reference="CASE-7",
        approver="dpo",
        review_date=date(2027, 6, 1),
        date_from=date(2026, 3, 1),
        date_to=date(2026, 3, 31),
    )
    endpoint = EndpointSettings(name="mac", url=laptop.as_uri())
    return Settings(endpoints=[endpoint], retention=[policy], holds=[hold]), laptop


def test_a_run_that_died_after_deleting_is_recorded_once(tmp_path: Path) -> None:
    """The rows were deleted by a run that died before its entries: the rerun of its plan recognises that the
    planned rows are gone (the database changed), records each conversation once and deletes nothing else."""
    settings, laptop = _direct(tmp_path)
    plan = plan_purge(settings, lambda n: open_location(n, settings), now=NOW)
    going = {
        r for c in plan.candidates if c.status.value == "purge" and c.path.endswith("state.vscdb") for r in c.records
    }
    delete_rows(laptop / CURSOR_DB, lambda rec: rec.record in going)
    ledger = Ledger(JsonlLedgerStore(tmp_path / "ledger.jsonl"), signer=None)
    report = execute_purge(plan, connectors=lambda n: open_location(n, settings), ledger=ledger, run_id="r", actor="t")
    assert report.complete
    purges = [e.record for e in ledger.entries() if e.record.action is LedgerAction.PURGE]
    outcome = {(r.path.rsplit("/", 1)[1], r.details["session_id"]): r.outcome for r in purges}
    assert outcome == {
        ("state.vscdb", "c-old"): "already_absent",
        ("state.vscdb.backup", "c-old"): "done",
        ("state_5.sqlite", "t-old"): "done",
    }
    assert {str(r[0]) for r in _rows(laptop / CURSOR_DB, "cursorDiskKV")} == {
        "composerData:c-held",
        "bubbleId:c-held:b1",
        "composerData:c-new",
        "bubbleId:c-new:b1",
    }


def test_a_conversation_written_to_since_the_plan_is_not_deleted(tmp_path: Path) -> None:
    """The app wrote to an expired conversation after planning: the database is a conflict and stays as it is."""
    settings, laptop = _direct(tmp_path)
    plan = plan_purge(settings, lambda n: open_location(n, settings), now=NOW)
    con = sqlite3.connect(laptop / CURSOR_DB)
    con.execute(
        "UPDATE cursorDiskKV SET value = ? WHERE key = ?", (_composer("c-old", "2026-10-31")[1], "composerData:c-old")
    )
    con.commit()
    con.close()
    before = _rows(laptop / CURSOR_DB, "cursorDiskKV")
    ledger = Ledger(JsonlLedgerStore(tmp_path / "ledger.jsonl"), signer=None)
    report = execute_purge(plan, connectors=lambda n: open_location(n, settings), ledger=ledger, run_id="r", actor="t")
    conflicts = {o.path.rsplit("/", 1)[1] for o in report.outcomes if o.status is ActionStatus.CONFLICT}  # type: ignore[union-attr]
    assert conflicts == {"state.vscdb"}
    assert _rows(laptop / CURSOR_DB, "cursorDiskKV") == before
