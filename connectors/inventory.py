"""Inventory of one endpoint's agent histories: counts and bytes per OS user and artifact kind.

Owns the summary behind `dsr fleet inventory`. Reads listings only (never file contents), so it names
paths, kinds and sizes but never personal data; decides nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from connectors.base import Connector, Skipped
from connectors.layouts import Artifact, CoverageGap, classify_location, find_gaps, iter_artifacts, os_hints_for


@dataclass(frozen=True, slots=True)
class KindTotals:
    """How many artifacts of one kind, and their bytes."""

    count: int
    bytes: int


@dataclass(frozen=True, slots=True)
class UserInventory:
    """One OS user's histories on the endpoint.

    Attributes:
        os: "macos" | "windows" | "linux".
        os_user: home directory name (`SYSTEM` for machine-wide files).
        kinds: artifact kind -> totals, sorted by kind.
        sessions: distinct session ids seen.
        oldest_at: earliest file modification time (listing metadata, no content read).
        newest_at: latest file modification time.
        roots: the application/store roots that held content, sorted.
        skipped: entries in this user's history locations the connector refused (symlinks, FIFOs, ...).
        agents: per agent (app), its totals: artifacts, bytes and sessions.
    """

    os: str
    os_user: str
    kinds: dict[str, KindTotals]
    sessions: int
    oldest_at: datetime | None
    newest_at: datetime | None
    roots: tuple[str, ...]
    skipped: tuple[Skipped, ...] = ()
    agents: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def artifacts(self) -> int:
        """Total artifact count."""
        return sum(totals.count for totals in self.kinds.values())

    @property
    def bytes(self) -> int:
        """Total bytes."""
        return sum(totals.bytes for totals in self.kinds.values())


@dataclass(frozen=True, slots=True)
class Inventory:
    """Every OS user's histories on one endpoint, plus skipped entries that belong to no user."""

    endpoint: str
    users: tuple[UserInventory, ...]
    skipped: tuple[Skipped, ...] = field(default_factory=tuple)
    gaps: tuple[CoverageGap, ...] = field(default_factory=tuple)

    @property
    def status(self) -> str:
        """`scanned`, or `scanned_with_gaps` when an agent-like store was found that no layout reads."""
        return "scanned_with_gaps" if self.gaps else "scanned"

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict (ISO timestamps, kinds as their report strings)."""

        def skipped(entries: Sequence[Skipped]) -> list[dict[str, str | None]]:
            return [{"path": s.path, "reason": s.reason, "target": s.target} for s in entries]

        return {
            "endpoint": self.endpoint,
            "users": [
                {
                    "os": user.os,
                    "os_user": user.os_user,
                    "artifacts": user.artifacts,
                    "bytes": user.bytes,
                    "sessions": user.sessions,
                    "kinds": {k: {"count": t.count, "bytes": t.bytes} for k, t in user.kinds.items()},
                    "oldest_at": user.oldest_at.isoformat() if user.oldest_at else None,
                    "newest_at": user.newest_at.isoformat() if user.newest_at else None,
                    "roots": list(user.roots),
                    "skipped": skipped(user.skipped),
                    "agents": user.agents,
                }
                for user in self.users
            ],
            "skipped": skipped(self.skipped),
            "gaps": [gap.to_dict() for gap in self.gaps],
        }

    def to_json(self) -> str:
        """`to_dict()` as one JSON document."""
        return json.dumps(self.to_dict(), sort_keys=False)


@dataclass
class _Acc:
    kinds: dict[str, list[int]] = field(default_factory=dict)
    sessions: set[str] = field(default_factory=set)
    roots: set[str] = field(default_factory=set)
    oldest_at: datetime | None = None
    newest_at: datetime | None = None
    skipped: list[Skipped] = field(default_factory=list)
    agents: dict[str, dict[str, int]] = field(default_factory=dict)
    agent_sessions: dict[str, set[str]] = field(default_factory=dict)

    def add(self, artifact: Artifact) -> None:
        totals = self.kinds.setdefault(artifact.kind.value, [0, 0])
        totals[0] += 1
        totals[1] += artifact.item.size
        agent = self.agents.setdefault(artifact.app, {"artifacts": 0, "bytes": 0, "sessions": 0})
        agent["artifacts"] += 1
        agent["bytes"] += artifact.item.size
        if artifact.session_id:
            sessions = self.agent_sessions.setdefault(artifact.app, set())
            sessions.add(artifact.session_id)
            agent["sessions"] = len(sessions)
        if artifact.session_id:
            self.sessions.add(artifact.session_id)
        self.roots.add(artifact.root)
        stamp = artifact.item.modified_at
        if self.oldest_at is None or stamp < self.oldest_at:
            self.oldest_at = stamp
        if self.newest_at is None or stamp > self.newest_at:
            self.newest_at = stamp


def build_inventory(
    connector: Connector, *, user_data_dirs: Sequence[str] = (), config_dirs: Sequence[str] = ()
) -> Inventory:
    """Summarise every agent-history artifact on the endpoint per OS user and kind.

    Args:
        connector: the endpoint.
        user_data_dirs: `$CLAUDE_USER_DATA_DIR` values (laptop paths), passed to discovery.
        config_dirs: `$CLAUDE_CONFIG_DIR` values (laptop paths), passed to discovery.

    Returns:
        The inventory; users sorted by (os, user), kinds sorted by name.
    """
    users: dict[tuple[str, str], _Acc] = {}
    orphans: list[Skipped] = []
    hints = os_hints_for(connector)
    for entry in iter_artifacts(connector, user_data_dirs=user_data_dirs, config_dirs=config_dirs):
        if isinstance(entry, Artifact):
            users.setdefault((entry.os, entry.os_user), _Acc()).add(entry)
            continue
        where = classify_location(entry.path, user_data_dirs=user_data_dirs, config_dirs=config_dirs, os_hints=hints)
        if where is None:
            orphans.append(entry)
        else:
            users.setdefault((where.os, where.os_user), _Acc()).skipped.append(entry)
    return Inventory(
        endpoint=connector.name,
        users=tuple(
            UserInventory(
                os=os_name,
                os_user=os_user,
                kinds={k: KindTotals(c, b) for k, (c, b) in sorted(acc.kinds.items())},
                sessions=len(acc.sessions),
                oldest_at=acc.oldest_at,
                newest_at=acc.newest_at,
                roots=tuple(sorted(acc.roots)),
                skipped=tuple(acc.skipped),
                agents=dict(sorted(acc.agents.items())),
            )
            for (os_name, os_user), acc in sorted(users.items())
        ),
        skipped=tuple(orphans),
        gaps=tuple(find_gaps(connector)),
    )
