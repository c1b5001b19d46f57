"""Retention policies can target one agent's kinds; other agents' sessions age by their own timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from connectors.layouts import Artifact, artifact_last_activity_at, iter_artifacts
from connectors.local import LocalConnector
from connectors.registry import open_location
from models.settings import EndpointSettings, RetentionPolicy, Settings
from retention.plan import PurgeStatus, plan_purge
from simulation.agents import SID, SID2, write_agent_stores
from tests.unit.connectors.laptops import laptop_files

NOW = datetime(2026, 9, 1, tzinfo=UTC)


def _laptop(root: Path) -> None:
    for path, (data, _kind) in laptop_files("macos").items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    write_agent_stores(root, "/Users/ana", "macos")


def _settings(root: Path, *kinds: str) -> Settings:
    return Settings(
        endpoints=[EndpointSettings(name="mac", url=root.as_uri())],
        retention=[RetentionPolicy(name="agents", kinds=list(kinds), period_days=30, version="1")],
    )


def test_agent_qualified_kind_targets_only_that_agent(tmp_path: Path) -> None:
    """`codex:transcript` purges Codex rollouts only; Claude and Gemini transcripts are not candidates."""
    _laptop(tmp_path)
    settings = _settings(tmp_path, "codex:transcript")
    plan = plan_purge(settings, lambda name: open_location(name, settings), now=NOW)
    purged = [c for c in plan.candidates if c.status is PurgeStatus.PURGE]
    assert {c.session_id for c in purged} == {SID, SID2}
    assert all("/.codex/" in f.path for c in purged for f in c.files)


def test_plain_kind_covers_every_agent(tmp_path: Path) -> None:
    """A plain kind (`transcript`) covers that kind of every agent, Claude included."""
    _laptop(tmp_path)
    settings = _settings(tmp_path, "transcript")
    plan = plan_purge(settings, lambda name: open_location(name, settings), now=NOW)
    paths = {f.path for c in plan.candidates for f in c.files}
    assert any("/.codex/" in p for p in paths) and any("/.gemini/" in p for p in paths)
    assert any("/.claude/projects/" in p for p in paths)


def test_agent_sessions_age_by_their_own_timestamps(tmp_path: Path) -> None:
    """Codex rollouts age by their line timestamps, Zed threads by `updated_at`, not by file mtime."""
    _laptop(tmp_path)
    with LocalConnector("mac", tmp_path) as connector:
        arts = {a.item.path: a for a in iter_artifacts(connector) if isinstance(a, Artifact)}
        rollout = next(a for p, a in arts.items() if p.endswith(f"{SID}.jsonl"))
        zed = next(a for p, a in arts.items() if p.endswith("threads.db"))
        history = next(a for p, a in arts.items() if p.endswith(".codex/history.jsonl"))
        assert artifact_last_activity_at(connector, rollout) == datetime(2026, 3, 2, 9, 14, 13, tzinfo=UTC)
        assert artifact_last_activity_at(connector, zed) == datetime(2026, 1, 21, 12, 0, tzinfo=UTC)
        assert artifact_last_activity_at(connector, history) == datetime.fromtimestamp(1772442850, tz=UTC)


def test_conversation_policy_plans_conversations_kept_in_databases(tmp_path: Path) -> None:
    """Under a whole-conversation policy, each conversation an agent keeps as rows of a database (Zed,
    OpenCode, Cursor and its `.backup`, Codex) is planned on its own, by its rows, aged by their own times."""
    _laptop(tmp_path)
    settings = Settings(
        endpoints=[EndpointSettings(name="mac", url=tmp_path.as_uri())],
        retention=[RetentionPolicy(name="all", unit="conversation", period_days=30, version="1")],
    )
    plan = plan_purge(settings, lambda name: open_location(name, settings), now=NOW)
    rows = {(c.path.rsplit("/", 1)[1], c.session_id) for c in plan.candidates if c.unit == "rows"}
    assert {("threads.db", "t1"), ("threads.db", "t2"), ("opencode.db", "ses_01")} <= rows
    assert {("state.vscdb", "c1"), ("state.vscdb.backup", "c1"), ("state_5.sqlite", SID)} <= rows
    assert not any(kind == "database" for _location, _path, kind in plan.ungrouped)
    zed = next(c for c in plan.candidates if c.session_id == "t1")
    assert zed.reference_at == datetime(2026, 1, 20, 12, 0, tzinfo=UTC)
    assert zed.records == ("threads:t1",)
