"""One layout module per AI agent, and their registry.

Each module declares the agent's roots per OS, path rules (artifact kind, format, session id), process
names, the files the app holds open, where a session's age is read and how each kind is erased
(`connectors.agents.base`). `classify_agent_path` applies them to a path relative to a home. Claude
(`connectors.agents.claude`: Cowork, Claude Code, the desktop app) declares the same things in `CLAUDE` but
classifies with its own tables (`connectors.layouts` tries them first). Decides nothing about policy; never
opens a file.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from connectors.agents import (
    aider,
    chatgpt,
    claude,
    cline,
    codex,
    continue_dev,
    copilot,
    cursor,
    gemini,
    opencode,
    windsurf,
    zed,
)
from connectors.agents.base import SKIP, AgentLayout, Erase
from connectors.records import RecordFormat

__all__ = [
    "AGENTS",
    "CLAUDE",
    "SKIP",
    "AgentLayout",
    "AgentMatch",
    "agent_layout",
    "agent_probes",
    "agent_title",
    "classify_agent_path",
    "record_app",
]

AGENTS: tuple[AgentLayout, ...] = (
    # Extension folders inside a VS Code-family user directory come before the editors' own roots.
    cline.LAYOUT,
    copilot.LAYOUT,
    cursor.LAYOUT,
    windsurf.LAYOUT,
    codex.LAYOUT,
    gemini.LAYOUT,
    continue_dev.LAYOUT,
    zed.LAYOUT,
    opencode.LAYOUT,
    chatgpt.LAYOUT,
    aider.LAYOUT,
)
"""Every agent layout besides Claude's, in the order paths are matched."""

CLAUDE: AgentLayout = claude.LAYOUT
"""The Claude layout's declaration (roots per OS, processes, files held open, time fields)."""

_BY_APP = {layout.app: layout for layout in AGENTS} | {"roo-code": cline.LAYOUT, "kilo-code": cline.LAYOUT}


@dataclass(frozen=True, slots=True)
class AgentMatch:
    """What a home-relative path is for one agent.

    Attributes:
        app: the agent (or variant) name.
        kind: artifact kind (`SKIP` for database sidecars).
        fmt: the format, None when it goes by the file's extension.
        erase: how it is erased.
        root: the matched root, relative to the home.
        session_id: the session the path names, if any.
        encrypted: the agent's store is encrypted (never opened).
    """

    app: str
    kind: str
    fmt: RecordFormat | None
    erase: Erase
    root: str
    session_id: str | None
    encrypted: bool = False


def agent_layout(app: str) -> AgentLayout | None:
    """The layout of an agent (or variant) by its `app` name."""
    return _BY_APP.get(app)


_RECORD_APPS = {f"ItemTable:{ext}": app for ext, app in cline.VARIANTS}
"""Rows of a VS Code-family `state.vscdb` that an extension owns (Kilo Code keeps its task index there)."""


def record_app(record: str) -> str | None:
    """The agent a database row belongs to when it is not the database's own (an extension's global-state
    key in the editor's `state.vscdb`), else None."""
    return _RECORD_APPS.get(record)


def agent_title(app: str) -> str:
    """How reports name an agent (or variant) by its `app` name: `kilo-code` is "Kilo Code", never "Cline";
    an unknown name is shown as it is."""
    if app in claude.APP_TITLES:
        return claude.APP_TITLES[app]
    layout = _BY_APP.get(app)
    if layout is None:
        return app
    return dict(layout.variant_titles).get(app, layout.title)


def agent_probes(os_name: str) -> tuple[str, ...]:
    """Home-relative globs to list for every agent on a home of `os_name`."""
    return tuple(dict.fromkeys(glob for layout in AGENTS for glob in layout.probes(os_name)))


def _split_root(root: str, parts: list[str]) -> tuple[str, list[str]] | None:
    globs = root.split("/") if root else []
    if len(parts) <= len(globs):
        return None
    if not all(fnmatch.fnmatchcase(parts[i], globs[i]) for i in range(len(globs))):
        return None
    return "/".join(parts[: len(globs)]), parts[len(globs) :]


def classify_agent_path(os_name: str, rest: str) -> AgentMatch | None:
    """Classify a path relative to a home of `os_name`; None when no agent layout claims it."""
    parts = rest.split("/")
    for layout in AGENTS:
        for root in layout.roots:
            if os_name not in root.oses:
                continue
            split = _split_root(root.path, parts)
            if split is None:
                continue
            root_path, below = split
            rel = "/".join(below)
            app = root.app or layout.app
            for rule in root.rules:
                match = rule.pattern.fullmatch(rel)
                if match:
                    sid = match.groupdict().get("sid")
                    encrypted = rule.fmt is RecordFormat.NONE and rule.erase is Erase.WHOLE_ONLY
                    return AgentMatch(app, rule.kind, rule.fmt, rule.erase, root_path, sid, encrypted)
            if root.claim_all:
                return AgentMatch(app, "other", None, Erase.TEXT_EDIT, root_path, None)
    return None
