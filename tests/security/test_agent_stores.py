"""Hostile input in the other agents' stores: links, hard links, names, huge lines, broken or locked databases.

A database that cannot be read or changed is a reported error, never a crash, never a partial write.
"""

from __future__ import annotations

import json
import os
import sqlite3

import pytest

from erasure.executor import ActionStatus
from tests.security.hostile import HOME, SUBJECT_EMAIL, SUBJECT_NAME, Laptop, assert_contained, run_pipeline

pytestmark = pytest.mark.timeout(120)
CODEX = f"{HOME}/.codex"
ROLLOUT = f"{CODEX}/sessions/2026/03/02/rollout-2026-03-02T09-14-09-0199aaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee.jsonl"
OPENCODE_DB = f"{HOME}/.local/share/opencode/opencode.db"


def _line(text: str, stamp: str = "2026-03-02T09:14:09.400Z") -> bytes:
    payload = {"type": "event_msg", "payload": {"type": "user_message", "message": text}}
    return json.dumps({"timestamp": stamp, "type": "event_msg", **payload}).encode() + b"\n"


FILLER = b"".join(_line(f"unrelated note {n}") for n in range(6))


def _database(laptop: Laptop, path: str = OPENCODE_DB) -> None:
    full = laptop.path(path)
    full.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(full)
    con.executescript("CREATE TABLE session(id TEXT PRIMARY KEY, title TEXT);")
    con.execute("INSERT INTO session VALUES ('ses_1', ?)", (f"Contract for {SUBJECT_NAME} <{SUBJECT_EMAIL}>",))
    con.execute("INSERT INTO session VALUES ('ses_2', 'Someone else')")
    con.commit()
    con.close()


def test_agent_root_linked_out_of_the_root_is_refused(laptop: Laptop) -> None:
    """`~/.codex` pointing at another user's directory outside the root is reported and never read."""
    os.symlink(laptop.outside / "home" / "bob" / ".claude", laptop.path(CODEX))
    before = laptop.outside_snapshot()
    run = run_pipeline(laptop)
    assert_contained(laptop, run, before)
    assert run.reasons()[f"/{CODEX}"] == "symlink_out_of_scope"


def test_database_linked_out_of_the_root_is_never_opened(laptop: Laptop) -> None:
    """A `state_5.sqlite` symlink to a file outside the root is refused; nothing outside is read."""
    laptop.path(CODEX).mkdir(parents=True)
    os.symlink(laptop.outside / "home" / "bob" / ".claude" / "history.jsonl", laptop.path(f"{CODEX}/state_5.sqlite"))
    before = laptop.outside_snapshot()
    run = run_pipeline(laptop)
    assert_contained(laptop, run, before)
    assert run.reasons()[f"/{CODEX}/state_5.sqlite"] == "symlink_out_of_scope"


def test_hard_linked_database_is_never_written_through(laptop: Laptop) -> None:
    """A database with a second name outside the root is refused for change; the other name is unchanged."""
    _database(laptop)
    other = laptop.outside / "opencode-copy.db"
    os.link(laptop.path(OPENCODE_DB), other)
    before = other.read_bytes()
    run = run_pipeline(laptop)
    outcome = run.outcome(f"/{OPENCODE_DB}")
    assert outcome.status is ActionStatus.FAILED and outcome.error == "refused"
    assert other.read_bytes() == before


def test_corrupt_and_fake_databases_are_reported_not_fatal(laptop: Laptop) -> None:
    """Garbage after the SQLite header, a truncated database and a text file named like one: reported."""
    _database(laptop)
    good = laptop.path(OPENCODE_DB).read_bytes()
    laptop.write(f"{HOME}/.local/share/opencode/opencode-beta.db", good[: len(good) // 3])
    laptop.write(f"{CODEX}/state_5.sqlite", b"SQLite format 3\x00" + b"\xee" * 5000)
    laptop.write(f"{CODEX}/logs_2.sqlite", f"not a database {SUBJECT_EMAIL}\n".encode())
    run = run_pipeline(laptop)
    reasons = run.reasons()
    assert reasons[f"/{CODEX}/state_5.sqlite"] == "failed"
    assert reasons[f"/{CODEX}/logs_2.sqlite"] == "failed"
    assert any(item.location.record == "session:ses_1" for item in run.scan.items)
    assert run.outcome(f"/{OPENCODE_DB}").status is ActionStatus.DONE


def test_locked_database_is_left_whole_and_reported(laptop: Laptop) -> None:
    """A database another process holds locked fails its action with nothing written; other files proceed."""
    _database(laptop)
    laptop.write(ROLLOUT, _line(f"mail {SUBJECT_EMAIL}") + FILLER)
    db = laptop.path(OPENCODE_DB)
    holder = sqlite3.connect(db, isolation_level=None)
    before = {}

    def lock(_plan: object) -> None:
        holder.execute("BEGIN EXCLUSIVE")
        before["db"] = db.read_bytes()

    try:
        run = run_pipeline(laptop, between=lock)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    outcome = run.outcome(f"/{OPENCODE_DB}")
    assert outcome.status is ActionStatus.FAILED
    assert db.read_bytes() == before["db"]
    assert run.outcome(f"/{ROLLOUT}").status is ActionStatus.DONE
    assert SUBJECT_EMAIL.encode() not in laptop.path(ROLLOUT).read_bytes()


@pytest.mark.parametrize("name", ["a\nb", "x" * 200, "..%2f..", "tab\tname", "ü-naïve"])
def test_hostile_task_and_session_names(laptop: Laptop, name: str) -> None:
    """Cline task folders and Gemini project folders with hostile names are scanned and redacted in place."""
    cline = f"{HOME}/.config/Code/User/globalStorage/saoudrizwan.claude-dev/tasks/{name}/ui_messages.json"
    gemini = f"{HOME}/.gemini/tmp/{name}/chats/session-2026-05-04T08-00-3f2b0c1d.jsonl"
    laptop.write(cline, json.dumps([{"ts": 1, "type": "say", "say": "task", "text": f"for {SUBJECT_EMAIL}"}]).encode())
    laptop.write(gemini, json.dumps({"id": "a", "type": "user", "content": SUBJECT_EMAIL}).encode() + b"\n" + FILLER)
    before = laptop.outside_snapshot()
    run = run_pipeline(laptop)
    assert_contained(laptop, run, before)
    assert {f"/{cline}", f"/{gemini}"} <= run.finding_paths()
    assert run.report.complete
    for path in (cline, gemini):
        assert SUBJECT_EMAIL.encode() not in laptop.path(path).read_bytes(), "redacted in place, not deleted"


def test_huge_line_in_a_rollout(laptop: Laptop) -> None:
    """A 9 MB line before a subject line: no crash, the later line is found on its own number and erased."""
    huge = _line("x" * (9 << 20))
    laptop.write(ROLLOUT, huge + _line(f"mail {SUBJECT_EMAIL}") + FILLER)
    run = run_pipeline(laptop)
    lines = {item.line for item in run.scan.items if item.path == f"/{ROLLOUT}"}
    assert 2 in lines
    assert SUBJECT_EMAIL.encode() not in laptop.path(ROLLOUT).read_bytes()
