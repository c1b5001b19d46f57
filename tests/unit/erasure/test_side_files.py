"""A database deleted whole takes its `-wal`, `-shm` and `-journal` with it, each removed only after the agent
and the database's app were checked again (`connectors.sqlite_store.remove_side_files`)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

from connectors.base import Activity
from connectors.memory import MemoryConnector
from erasure.executor import execute_plan
from erasure.plan import ActionKind, ErasurePlan, PlannedAction
from tests.unit.erasure.fleet import new_ledger

DB = "/home/ana/.local/share/opencode/opencode.db"
SIDE = {DB + "-wal": b"w" * 64, DB + "-shm": b"s" * 32, DB + "-journal": b""}


class _Laptop(MemoryConnector):
    """OpenCode's process shows once `opened` is set (the agent itself stays idle)."""

    opened = False

    def activity(self) -> Activity:
        return Activity(agent_running=False, evidence=("app_process:opencode",) if self.opened else ())


def _plan(laptop: MemoryConnector) -> ErasurePlan:
    data = b"SQLite format 3\x00" + b"\0" * 84
    target = laptop.stat(DB).read_as("other", "sqlite", sha256=hashlib.sha256(data).hexdigest(), lines=1)
    action = PlannedAction(
        "a1", ActionKind.DELETE_FILE, "lap", "endpoint", "unredactable", DB, target=target, app="opencode"
    )
    return ErasurePlan("req-side", datetime(2026, 11, 20, tzinfo=UTC), 0.5, (action,))


def test_side_files_wait_when_the_app_opens_after_the_database_went(tmp_path: Path) -> None:
    laptop = _Laptop("lap", {DB: b"SQLite format 3\x00" + b"\0" * 84, **SIDE})
    plan = _plan(laptop)
    ledger = new_ledger(tmp_path / "ledger.jsonl")

    def hook(step: str) -> None:
        if step == "before_delete":  # the action's own check has passed; the app starts now
            laptop.opened = True

    first = execute_plan(
        plan, connectors=lambda _: laptop, matcher=None, ledger=ledger, run_id="r1", actor="t", kill_hook=hook
    )
    assert [o.status.value for o in first.outcomes] == ["busy"]
    assert set(laptop.snapshot()) == set(SIDE), "no side file removed while the app runs"

    laptop.opened = False
    second = execute_plan(plan, connectors=lambda _: laptop, matcher=None, ledger=ledger, run_id="r2", actor="t")
    assert [o.status.value for o in second.outcomes] == ["done"]
    assert laptop.snapshot() == {}
    assert [e.record.details.get("sidecars_removed") for e in ledger.entries()] == [3]


def test_a_deleted_session_takes_its_databases_side_files(tmp_path: Path) -> None:
    """A session deleted whole whose files include a database outside its folders: the database's side files
    go too (they hold its content), and the ledger entry counts them."""
    laptop = _Laptop("lap", {DB: b"SQLite format 3\x00" + b"\0" * 84, **SIDE})
    target = _plan(laptop).actions[0].target
    assert target is not None
    action = PlannedAction(
        "a1", ActionKind.DELETE_SESSION, "lap", "endpoint", "owned_session", DB, session_id="s1", files=(target,),
        app="opencode",
    )  # fmt: skip
    plan = ErasurePlan("req-side", datetime(2026, 11, 20, tzinfo=UTC), 0.5, (action,))
    ledger = new_ledger(tmp_path / "ledger.jsonl")
    done = execute_plan(plan, connectors=lambda _: laptop, matcher=None, ledger=ledger, run_id="r1", actor="t")
    assert [o.status.value for o in done.outcomes] == ["done"]
    assert laptop.snapshot() == {}
    assert [e.record.details.get("sidecars_removed") for e in ledger.entries()] == [3]
