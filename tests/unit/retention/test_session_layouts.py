"""Every file of a conversation goes with it, whatever the layout; nothing that looks like a conversation's
content is left ungrouped silently; a policy's unit is explicit."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.registry import open_location
from models.settings import RetentionPolicy, Settings, load_settings
from proofs.ledger import Ledger
from proofs.store import JsonlLedgerStore
from retention.execute import execute_purge
from retention.plan import plan_purge
from simulation.fleet import simulate_fleet

NOW = datetime(2026, 11, 1, tzinfo=UTC)
WHOLE = RetentionPolicy(name="conversations", unit="conversation", period_days=0, version="2")


def _fleet(root: Path, **kwargs: Any) -> tuple[Settings, dict[str, Any]]:
    simulate_fleet(root, endpoints=2, size_mb=0.05, seed=11, agent_session_dirs=True, **kwargs)
    settings = load_settings(root / "dsr.toml")
    truth = json.loads((root / "truth.json").read_text(encoding="utf-8"))
    return settings, truth


def _on_disk(root: Path, endpoint: str, path: str) -> Path:
    return root / endpoint / path.lstrip("/")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Settings, dict[str, Any]]:
    root = tmp_path_factory.mktemp("layouts") / "fleet"
    settings, truth = _fleet(root)
    return root, settings, truth


def _kinds(truth: dict[str, Any]) -> list[str]:
    return sorted({str(s["type"]) for s in truth["sessions"]})


def test_agent_sessions_have_their_own_folder_under_agent(fleet: tuple[Path, Settings, dict[str, Any]]) -> None:
    """The simulated `agent` sessions write `agent/local_<id>/` (audit log, key, transcript, output)."""
    _root, _settings, truth = fleet
    agent = [s for s in truth["sessions"] if s["type"] == "agent"]
    assert agent
    for session in agent:
        folder = [p for p in session["paths"] if f"/agent/{session['session_id']}/" in p]
        assert {p.rsplit("/", 1)[-1] for p in folder} >= {"audit.jsonl", ".audit-key", "digest.md"}


@pytest.mark.parametrize("kind", ["full", "resumed", "agent", "failed", "code_tab", "cli", "trap"])
def test_purge_takes_every_file_of_a_conversation(kind: str, tmp_path: Path) -> None:
    """Per layout: the plan lists every file the simulator wrote for a session, and the purge removes them all."""
    root = tmp_path / "fleet"
    settings, truth = _fleet(root)
    sessions = [s for s in truth["sessions"] if s["type"] == kind]
    if not sessions:
        pytest.skip(f"the simulated fleet has no {kind} session (kinds: {_kinds(truth)})")
    settings = settings.model_copy(update={"retention": [WHOLE]})
    plan = plan_purge(settings, lambda n: open_location(n, settings), now=NOW)
    by_session = {(c.location, c.session_id): c for c in plan.candidates if c.unit == "session"}
    for session in sessions:
        cand = by_session[(session["endpoint"], session["session_id"])]
        assert {f.path for f in cand.files} == set(session["paths"]), session["session_id"]
    assert not [u for u in plan.ungrouped if any(u[1] in s["paths"] for s in sessions)]
    ledger = Ledger(JsonlLedgerStore(tmp_path / "ledger.jsonl"), signer=None)
    report = execute_purge(plan, connectors=lambda n: open_location(n, settings), ledger=ledger, run_id="r", actor="t")
    assert report.complete
    for session in sessions:
        for path in session["paths"]:
            assert not _on_disk(root, session["endpoint"], path).exists(), path


def test_session_content_without_a_session_is_reported_and_kept(tmp_path: Path) -> None:
    """A short-named `agent/` folder that matches no record groups with no session: the plan reports it and
    the purge leaves it alone."""
    root = tmp_path / "fleet"
    settings, truth = _fleet(root)
    session = next(s for s in truth["sessions"] if s["type"] == "agent")
    record = next(p for p in session["paths"] if p.endswith(f"/agent/{session['session_id']}.json"))
    stray = record.rsplit("/", 1)[0] + "/0badc0de/audit.jsonl"
    target = _on_disk(root, session["endpoint"], stray)
    target.parent.mkdir(parents=True)
    target.write_text('{"type":"user"}\n', encoding="utf-8")
    settings = settings.model_copy(update={"retention": [WHOLE]})
    plan = plan_purge(settings, lambda n: open_location(n, settings), now=NOW)
    reported = {path for loc, path, _kind in plan.ungrouped if loc == session["endpoint"]}
    assert stray in reported
    planned = {f.path for c in plan.candidates for f in c.files}
    assert not (reported & planned)
    assert plan.counts()["ungrouped"] == len(plan.ungrouped)


def test_transcripts_only_policy_lists_what_stays_per_conversation(tmp_path: Path) -> None:
    """A policy of named kinds that takes only transcripts lists, per conversation, exactly the files that stay."""
    root = tmp_path / "fleet"
    settings, truth = _fleet(root)
    policy = RetentionPolicy(name="transcripts", kinds=["transcript"], period_days=0, version="1")
    settings = settings.model_copy(update={"retention": [policy]})
    plan = plan_purge(settings, lambda n: open_location(n, settings), now=NOW)
    partial = {(loc, sid): set(stay) for loc, sid, stay in plan.partial}
    full = next(s for s in truth["sessions"] if s["type"] == "full")
    going = {f.path for c in plan.candidates if c.session_id == full["session_id"] for f in c.files}
    stays = partial[(full["endpoint"], full["session_id"])]
    assert going and stays
    assert going | stays == set(full["paths"]) and not going & stays
    assert all(p.endswith(".jsonl") for p in going)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"unit": "conversation", "kinds": ["transcript"]}, "takes no kinds"),
        ({"kinds": []}, 'unit = "conversation"'),
        ({"unit": "conversation", "action": "redact"}, "action 'delete' only"),
    ],
)
def test_policy_unit_is_validated(fields: dict[str, Any], message: str) -> None:
    """The configuration says which unit a policy has, and names the other form when it is wrong."""
    with pytest.raises(ValidationError, match=message):
        RetentionPolicy(**{"name": "p", "period_days": 1, **fields})


def _agent_sessions(root: Path, settings: Settings) -> dict[str, dict[str, set[str]]]:
    """app -> session id -> paths, as the layouts group the other agents' files on laptop-01."""
    from connectors.layouts import Artifact, iter_artifacts

    found: dict[str, dict[str, set[str]]] = {}
    with open_location("laptop-01", settings) as connector:
        for art in iter_artifacts(connector):
            if isinstance(art, Artifact) and art.session_id and art.app not in ("cowork", "claude-code"):
                found.setdefault(art.app, {}).setdefault(art.session_id, set()).add(art.item.path)
    return found


@pytest.mark.parametrize("app", ["codex", "gemini-cli", "copilot", "cline", "continue", "windsurf"])
def test_purge_takes_every_file_of_another_agents_conversation(app: str, tmp_path: Path) -> None:
    """Per other agent's layout: a conversation policy takes every file its layout groups with a session."""
    root = tmp_path / "fleet"
    simulate_fleet(root, endpoints=1, size_mb=0.02, seed=3, agents=True)
    settings = load_settings(root / "dsr.toml").model_copy(update={"retention": [WHOLE]})
    sessions = _agent_sessions(root, settings).get(app)
    assert sessions, f"the simulated laptop has {app} sessions"
    later = datetime(2030, 1, 1, tzinfo=UTC)
    plan = plan_purge(settings, lambda n: open_location(n, settings), now=later)
    files = [c for c in plan.candidates if c.location == "laptop-01" and c.unit != "rows"]  # rows: own test
    by_session = {c.session_id: {f.path for f in c.files} for c in files}
    for sid, paths in sessions.items():
        assert by_session[sid] == paths, sid
    ledger = Ledger(JsonlLedgerStore(tmp_path / "ledger.jsonl"), signer=None)
    report = execute_purge(plan, connectors=lambda n: open_location(n, settings), ledger=ledger, run_id="r", actor="t")
    assert not report.pending
    for paths in sessions.values():
        assert not [p for p in paths if _on_disk(root, "laptop-01", p).exists()]
