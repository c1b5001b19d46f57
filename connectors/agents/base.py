"""What an agent layout declares: roots per OS, path rules (kind, format, session), the app's processes,
the files it holds open, how each kind is erased and where a session's age is read.

Plain data: the per-agent modules fill it in, `connectors.layouts` applies it. Decides nothing about policy.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from connectors.records import RecordFormat

F = RecordFormat

UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


class Erase(StrEnum):
    """How a kind of file is erased (the letters of docs/histories.md)."""

    JSONL_REWRITE = "A"
    JSON_REWRITE = "B"
    SQLITE = "C"
    COMPRESSED = "D"
    CONTENT_ADDRESSED = "E"
    SHADOW_GIT = "F"
    WHOLE_ONLY = "G"
    TEXT_EDIT = "T"


@dataclass(frozen=True, slots=True)
class Rule:
    """A path rule relative to an agent root: kind, format (None: by extension), session id group `sid`."""

    pattern: re.Pattern[str]
    kind: str
    fmt: RecordFormat | None
    erase: Erase


def rule(regex: str, kind: str, fmt: RecordFormat | None, erase: Erase) -> Rule:
    """A `Rule` from a regex matched against the whole path below the root."""
    return Rule(re.compile(regex, re.DOTALL), kind, fmt, erase)


SKIP = "skip"
"""Kind of paths that belong to the agent but are no artifact of their own (`-wal`, `-shm` sidecars)."""


@dataclass(frozen=True, slots=True)
class Root:
    """Where an agent keeps a store, relative to a home (glob components), on the given OSes."""

    path: str
    oses: tuple[str, ...] = ("macos", "windows", "linux")
    rules: tuple[Rule, ...] = ()
    app: str | None = None  # for a root shared by variants (Cline, Roo Code, Kilo Code): the variant
    claim_all: bool = True  # unmatched files below the root are artifacts (`other`); False for shared dirs
    probe_globs: tuple[str, ...] = ()  # what to list instead of `path` (Aider: `.aider*` files at depths)


@dataclass(frozen=True, slots=True)
class AgentLayout:
    """One agent's layout.

    Attributes:
        app: the agent's name in findings (`codex`, `gemini-cli`, ...).
        title: how reports name it.
        roots: its stores, per OS, each with its path rules.
        processes: process names that mean the app is running (no change while one runs).
        held_open: globs (relative to a root) of files the app keeps open or caches in memory: every file
            of these agents (the default), so no change is made while one of `processes` runs.
        time_fields: record fields whose newest value is a session's last activity.
        encrypted: its conversations are encrypted: never opened, deleted whole, vendor request.
        row_session: the conversation a database row belongs to, from its table, key and decoded cells.
    """

    app: str
    title: str
    roots: tuple[Root, ...]
    processes: tuple[str, ...] = ()
    held_open: tuple[str, ...] = ("*",)
    time_fields: tuple[str, ...] = ("timestamp",)
    encrypted: bool = False
    row_session: Callable[[str, str, Mapping[str, object]], str | None] | None = None

    def probes(self, os_name: str) -> tuple[str, ...]:
        """The home-relative globs to list on a home of `os_name`."""
        return tuple(glob for root in self.roots if os_name in root.oses for glob in (root.probe_globs or (root.path,)))


def vscode_user_dirs(*apps: str) -> dict[str, tuple[str, ...]]:
    """The VS Code-family user directory of each app, per OS (relative to a home)."""
    return {
        "macos": tuple(f"Library/Application Support/{app}/User" for app in apps),
        "windows": tuple(f"AppData/Roaming/{app}/User" for app in apps),
        "linux": tuple(f".config/{app}/User" for app in apps),
    }


def family_roots(
    apps: tuple[str, ...], suffix: str, rules: tuple[Rule, ...], app: str | None = None
) -> tuple[Root, ...]:
    """One root per OS and VS Code-family app: `<user dir>/<suffix>`."""
    roots = []
    for os_name, dirs in vscode_user_dirs(*apps).items():
        for user_dir in dirs:
            path = f"{user_dir}/{suffix}" if suffix else user_dir
            roots.append(Root(path, (os_name,), rules, app, claim_all=bool(suffix)))
    return tuple(roots)


SESSION_COLUMNS = ("session_id", "thread_id", "sessionId", "conversation_id", "composerId")
"""Columns (or JSON fields of a row) that name the conversation a row belongs to."""


def session_of_row(tables: tuple[str, ...] = ()) -> Callable[[str, str, Mapping[str, object]], str | None]:
    """A `row_session`: the row's session column, else its key in one of `tables` (rows that are sessions)."""

    def find(table: str, key: str, cells: Mapping[str, object]) -> str | None:
        for column in SESSION_COLUMNS:
            value = cells.get(column)
            if isinstance(value, str) and value:
                return value
        return key if table in tables else None

    return find


SQLITE_SIDECARS = rule(r".+-(?:wal|shm|journal)", SKIP, F.NONE, Erase.SQLITE)
"""`-wal`, `-shm` and `-journal` files: read and changed together with their database, never on their own."""
