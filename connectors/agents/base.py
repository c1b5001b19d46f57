"""What an agent layout declares: roots per OS, path rules (kind, format, session), the app's processes,
the files it holds open, how each kind is erased and where a session's age is read; and the vocabulary every
layout shares: artifact kinds, formats by extension and what a classified path is (`Classification`).

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
        variant_titles: how reports name each variant sharing the layout (Kilo Code is never "Cline").
        blob_records: database records (`<table>:<key>`) whose value is keyed by its hash: a row holding the
            subject is deleted, never edited (method E).
    """

    app: str
    title: str
    roots: tuple[Root, ...]
    processes: tuple[str, ...] = ()
    held_open: tuple[str, ...] = ("*",)
    time_fields: tuple[str, ...] = ("timestamp",)
    encrypted: bool = False
    row_session: Callable[[str, str, Mapping[str, object]], str | None] | None = None
    variant_titles: tuple[tuple[str, str], ...] = ()  # (app, title) of variants that share the layout
    blob_records: tuple[str, ...] = ()  # regexes of database records that are content-addressed blobs

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


class ArtifactKind(StrEnum):
    """What an artifact is; the values are the `kind` strings of reports."""

    SESSION_RECORD = "session_record"
    TRANSCRIPT = "transcript"
    SUBAGENT = "subagent"
    SUBAGENT_META = "subagent_meta"
    TOOL_RESULT = "tool_result"
    TASK = "task"
    AUDIT_LOG = "audit_log"
    AUDIT_KEY = "audit_key"
    UPLOAD = "upload"
    OUTPUT = "output"
    MEMORY = "memory"
    ORG_FILE = "org_file"
    CODE_SESSION_RECORD = "code_session_record"
    PROMPT_HISTORY = "prompt_history"
    PASTE_CACHE = "paste_cache"
    FILE_HISTORY = "file_history"
    PLAN = "plan"
    TODO = "todo"
    SHELL_SNAPSHOT = "shell_snapshot"
    PROJECT_MEMORY = "project_memory"
    CLAUDE_JSON = "claude_json"
    USER_OUTPUT = "user_output"
    LOG = "log"
    RESIDUAL = "residual"
    OTHER = "other"
    # Kinds of the other agents (connectors.agents)
    SESSION_INDEX = "session_index"
    DATABASE = "database"
    CHECKPOINT = "checkpoint"
    SHADOW_GIT = "shadow_git"
    ENCRYPTED_STORE = "encrypted_store"
    ACCOUNT = "account"


K = ArtifactKind
OTHER_AGENT_KINDS = frozenset({K.SESSION_INDEX, K.DATABASE, K.CHECKPOINT, K.SHADOW_GIT, K.ENCRYPTED_STORE, K.ACCOUNT})
"""Kinds only the other agents' layouts (`connectors.agents`) produce."""

_TEXT_EXTENSIONS = [
    ".txt",
    ".md",
    ".markdown",
    ".log",
    ".csv",
    ".tsv",
    ".py",
    ".js",
    ".ts",
    ".tsx",
    ".jsx",
    ".html",
    ".htm",
    ".xml",
    ".yaml",
    ".yml",
    ".toml",
    ".ini",
    ".cfg",
    ".conf",
    ".sh",
    ".zsh",
    ".bash",
    ".ps1",
    ".sql",
    ".css",
    ".rs",
    ".go",
    ".java",
    ".c",
    ".h",
    ".cpp",
    ".rb",
    ".eml",
    ".ics",
    ".vcf",
    ".rtf",
    ".svg",
    ".env",
    ".diff",
    ".patch",
    ".tex",
    ".r",
    ".swift",
    ".kt",
]
EXTENSION_FORMATS: dict[str, RecordFormat] = {".jsonl": F.JSONL, ".json": F.JSON} | dict.fromkeys(
    _TEXT_EXTENSIONS, F.TEXT
)
"""Formats by file extension; a name without a known extension is text for text-like kinds, else binary."""

TEXT_LIKE_KINDS = frozenset(
    {K.LOG, K.PASTE_CACHE, K.FILE_HISTORY, K.TOOL_RESULT, K.PLAN, K.MEMORY, K.PROJECT_MEMORY, K.SHELL_SNAPSHOT}
)


@dataclass(frozen=True, slots=True)
class Classification:
    """What a laptop path is, before it is tied to an `Item`.

    `session_hint` names a session that must be resolved from records seen in the same store:
    `("short", store, hex8)` for an 8-hex short session directory, `("ditto", store, "")` for a dispatch
    generation (it belongs to the store's single agent record).
    """

    kind: ArtifactKind
    fmt: RecordFormat
    os: str
    os_user: str
    app: str
    root: str
    session_id: str | None = None
    cli_session_id: str | None = None
    session_hint: tuple[str, str, str] | None = None
    erase: Erase | None = None  # the agent's path rule's erase method; None: by kind and format (Claude's tables)


def file_format(name: str, kind: ArtifactKind, fixed: RecordFormat | None) -> RecordFormat:
    """The format of a file: `fixed` when the layout names one, else by extension (text-like kinds: text)."""
    if fixed is not None:
        return fixed
    if kind is K.RESIDUAL or kind is K.AUDIT_KEY:
        return F.NONE
    base = name.rsplit("/", 1)[-1].lower()
    dot = base.rfind(".")
    ext = base[dot:] if dot > 0 else ""
    if ext in EXTENSION_FORMATS:
        return EXTENSION_FORMATS[ext]
    return F.TEXT if kind in TEXT_LIKE_KINDS else F.BINARY


def under(path: str, base: str) -> str | None:
    """`path` relative to `base`, or None when it does not lie below it."""
    base = base.rstrip("/")
    return path[len(base) + 1 :] if path.startswith(base + "/") else None
