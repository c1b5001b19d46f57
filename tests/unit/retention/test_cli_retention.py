"""Acceptance: `dsr retention plan|run|approve` on a simulated fleet with `agent/` sessions, nested session
folders and a legal hold; disposition review on; the certificate of disposal from the ledger."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dsr.cli import register
from dsr.context import state
from simulation.fleet import simulate_fleet

app = register()  # every command group, as `dsr --help` sees them
AS_OF = "2026-11-01"
NOW = datetime(2026, 11, 1, tzinfo=UTC)
DAYS = 365
EXTRA = f"""
[[retention]]
name = "conversations"
unit = "conversation"
period_days = {DAYS}
version = "4"

[[holds]]
id = "LH-1"
reason = "pending litigation"
case_reference = "CASE-9"
approver = "dpo"
review_date = "2027-06-01"
endpoints = ["laptop-02"]
"""


CONFIG: list[str] = []


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def fleet(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict[str, Any]]:
    root = tmp_path / "fleet"
    simulate_fleet(root, endpoints=3, size_mb=0.05, seed=5, agent_session_dirs=True, extra_toml=EXTRA)
    monkeypatch.setenv("DSR_DATABASE_URL", database_url)
    monkeypatch.setattr(state, "_settings", None)
    CONFIG[:] = ["--config", str(root / "dsr.toml")]
    return root, json.loads((root / "truth.json").read_text(encoding="utf-8"))


def _files(root: Path, session: dict[str, Any]) -> list[Path]:
    return [root / session["endpoint"] / p.lstrip("/") for p in session["paths"]]


def _run(runner: CliRunner) -> tuple[str, str]:
    result = runner.invoke(app, [*CONFIG, "retention", "run", "--as-of", AS_OF])
    assert result.exit_code == 0, result.output
    assert "awaits approval" in result.output and "nothing was deleted" in result.output
    run_id = re.search(r"run (\S+) awaits approval", result.output)
    digest = re.search(r"plan digest ([0-9a-f]{64})", result.output)
    assert run_id and digest
    return run_id.group(1), digest.group(1)


def test_reviewed_purge_disposes_expired_unheld_conversations_whole(fleet: tuple[Path, dict[str, Any]]) -> None:
    root, truth = fleet
    runner = CliRunner()
    sessions = truth["sessions"]
    expired = [s for s in sessions if _parse(s["last_activity_at"]) + timedelta(days=DAYS) <= NOW]
    goes = [s for s in expired if s["endpoint"] != "laptop-02"]
    stays = [s for s in sessions if s not in goes]
    assert any(s["type"] == "agent" for s in goes), "an agent/ session is among those that go"
    assert any(s["endpoint"] == "laptop-02" for s in expired), "the hold keeps an expired session"
    before = {p: _digest(p) for s in stays for p in _files(root, s)}

    plan = runner.invoke(app, [*CONFIG, "retention", "plan", "--as-of", AS_OF, "--json"])
    assert plan.exit_code == 0, plan.output
    planned = json.loads(plan.output)
    assert planned["totals"]["purge"]["sessions"] == len(goes)
    assert planned["totals"]["retained"]["sessions"] == len([s for s in expired if s["endpoint"] == "laptop-02"])

    # Review on by default: a real run deletes nothing until approved.
    run_id, digest = _run(runner)
    assert all(p.exists() for s in goes for p in _files(root, s))
    wrong = runner.invoke(app, [*CONFIG, "retention", "approve", run_id, "--by", "Dana Reviewer", "--digest", "0" * 64])
    assert wrong.exit_code != 0 and "not the digest" in str(wrong.exception)
    # A file changes after the review: the approval of the old digest is refused as stale, nothing goes.
    changed = _files(root, goes[0])[0]
    changed.write_bytes(changed.read_bytes() + b"\n")
    stale = runner.invoke(app, [*CONFIG, "retention", "approve", run_id, "--by", "Dana Reviewer", "--digest", digest])
    assert stale.exit_code != 0 and "stale digest" in str(stale.exception)
    assert all(p.exists() for s in goes for p in _files(root, s))

    run_id, digest = _run(runner)
    done = runner.invoke(app, [*CONFIG, "retention", "approve", run_id, "--by", "Dana Reviewer", "--digest", digest])
    assert done.exit_code == 0, done.output
    for session in goes:
        assert not [p for p in _files(root, session) if p.exists()], session["session_id"]
    assert {p: _digest(p) for p in before} == before

    certificate = json.loads(next((root / ".dsr").rglob(f"disposal-{run_id}.json")).read_text(encoding="utf-8"))
    listed = [(c["location"], c["conversation"]) for c in certificate["disposed"]]
    assert sorted(listed) == sorted((s["endpoint"], s["session_id"]) for s in goes)
    assert len(listed) == len(set(listed))
    assert certificate["approved_by"] == "Dana Reviewer" and certificate["plan_digest"] == digest
    assert certificate["policies"] == {"conversations": "4"}
    assert {k["why"] for k in certificate["kept"]} >= {"legal hold"}
    files = {f["path"] for c in certificate["disposed"] for f in c["files"]}
    assert files == {p for s in goes for p in s["paths"]}
    assert (root / ".dsr").rglob(f"disposal-{run_id}.html")
