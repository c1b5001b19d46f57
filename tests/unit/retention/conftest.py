"""A simulated fleet with sessions of many ages, its truth and a policy over every session kind."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Connector
from connectors.registry import open_location
from models.settings import RetentionPolicy, Settings, load_settings
from simulation.fleet import simulate_fleet

REFERENCE = datetime(2026, 11, 1, tzinfo=UTC)
SESSION_KINDS = [
    "session_record",
    "code_session_record",
    "transcript",
    "subagent",
    "subagent_meta",
    "tool_result",
    "task",
    "audit_log",
    "audit_key",
    "upload",
    "output",
    "file_history",
    "todo",
]


@dataclass(frozen=True)
class Fleet:
    """A simulated fleet: its directory, settings with a retention policy, and truth.json."""

    root: Path
    settings: Settings
    truth: dict[str, Any]

    def connectors(self) -> Callable[[str], Connector]:
        """Opens a location of the fleet by name."""
        return lambda name: open_location(name, self.settings)

    def sessions(self) -> list[dict[str, Any]]:
        """The generator's sessions."""
        return list(self.truth["sessions"])

    def expired(self, days: int, now: datetime = REFERENCE) -> set[tuple[str, str]]:
        """(endpoint, session id) of sessions whose last activity is at least `days` before `now`."""
        return {
            (s["endpoint"], s["session_id"])
            for s in self.sessions()
            if parse(s["last_activity_at"]) + timedelta(days=days) <= now
        }


def parse(stamp: str) -> datetime:
    """An ISO timestamp with `Z` as an aware datetime."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def with_policies(settings: Settings, *policies: RetentionPolicy, **extra: Any) -> Settings:
    """The settings with these retention policies (and other top-level fields)."""
    return settings.model_copy(update={"retention": list(policies), **extra})


def make_fleet(root: Path, *, endpoints: int = 3, seed: int = 7, days: int = 365) -> Fleet:
    """Simulate a fleet under `root` with one policy deleting sessions `days` after their last activity."""
    simulate_fleet(root, endpoints=endpoints, size_mb=0.05, seed=seed)
    settings = load_settings(root / "dsr.toml")
    policy = RetentionPolicy(name="history", kinds=SESSION_KINDS, period_days=days, version="3")
    truth = json.loads((root / "truth.json").read_text(encoding="utf-8"))
    return Fleet(root, with_policies(settings, policy), truth)


@pytest.fixture
def fleet(tmp_path: Path) -> Fleet:
    """A fresh three-laptop fleet with a 365-day session policy."""
    return make_fleet(tmp_path / "fleet")
