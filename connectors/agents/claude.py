"""Claude Cowork, Claude Code and the Claude desktop app: where they keep histories on a laptop and how.

The Claude layout module, like the other agents' (`connectors.agents`): roots per OS (the Cowork session
store and the app roots, `~/.claude` and `~/.claude.json`, the output folders, logs, residual stores and the
Trash; docs/histories.md), artifact kinds and formats, how a path is classified, where records and ages are
read, which processes mean the app is running (every file is held open: no change while one runs) and how
each kind is erased. Its paths need more than glob roots (Store package families, session folders nested in
the store, short and dispatch session folders), so it classifies with its own tables instead of `Root`
rules; `LAYOUT` declares the rest in the shape every agent uses. To add a Claude location, add its pattern to
the relevant table (`APP_ROOTS`, `LOG_ROOTS`, `SYSTEM_ROOTS`, `CLAUDE_DIR_RULES`, `COWORK_STORE_RULES`,
`SESSION_DIR_RULES`, `RESIDUAL_DIRS`, ...) and, for a new location, to `PROBES` (a unit test checks that
probing finds what a full walk finds). Never opens audit keys or residual stores. Decides nothing about policy.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from connectors.agents.base import (
    UUID,
    AgentLayout,
    ArtifactKind,
    Classification,
    Erase,
    Root,
    file_format,
    under,
)
from connectors.records import RecordFormat

K = ArtifactKind
F = RecordFormat

COWORK = "cowork"
CLAUDE_CODE = "claude-code"
DESKTOP = "claude-desktop"
SYSTEM_USER = "SYSTEM"  # owner of machine-wide files such as the Windows coworkd service logs
APPS = (COWORK, CLAUDE_CODE, DESKTOP)
"""The `app` names of Claude artifacts."""
APP_TITLES = {COWORK: "Claude Cowork", CLAUDE_CODE: "Claude Code", DESKTOP: "Claude desktop app"}
"""How reports name each Claude app."""


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """The typed fields of a Cowork or Code-tab session record that discovery and retention need."""

    session_id: str
    cli_session_id: str | None
    email_address: str | None
    account_id: str | None
    title_present: bool
    created_at: datetime | None
    last_activity_at: datetime | None
    session_type: str | None
    path: str


# ---------------------------------------------------------------------------------------------------------
# Tables. Regexes match laptop paths relative to the anchor named in each table.
# ---------------------------------------------------------------------------------------------------------

ACTIVITY_MARKER_GLOBS: tuple[str, ...] = (
    "Users/*/.claude/sessions/*.json",
    "home/*/.claude/sessions/*.json",
    "root/.claude/sessions/*.json",
    "C:/Users/*/.claude/sessions/*.json",
)
"""Globs (relative to a laptop's `/`) of Claude Code's `~/.claude/sessions/<pid>.json` running markers."""

PROBES: dict[str, tuple[str, ...]] = {
    "macos": (
        ".claude",
        ".claude.json*",
        "Claude",
        "Documents/Claude",
        "Library/Application Support/Claude",
        "Library/Application Support/Claude-3p",
        "Library/Logs/Claude*",
        ".Trash",
    ),
    "windows": (
        ".claude",
        ".claude.json*",
        "Claude",
        "Documents/Claude",
        "AppData/Roaming/Claude",
        "AppData/Roaming/Claude-3p",
        "AppData/Local/Claude",
        "AppData/Local/Claude-3p",
        "AppData/Local/Claude-Data",
        "AppData/Local/Packages/*Claude_*/LocalCache",
    ),
    "linux": (
        ".claude",
        ".claude.json*",
        "Claude",
        "Documents/Claude",
        ".config/Claude",
        ".config/Claude-3p",
        ".local/share/Trash/files",
    ),
}
"""Claude locations listed per home (glob components matched against directory names); must cover every
table. `connectors.layouts.HOME_PROBES` adds the other agents' roots."""

_CLAUDE_DATA_KNOWN = (
    "local-agent-mode-sessions|claude-code-sessions|logs|vm_bundles|IndexedDB|Local Storage|Session Storage"
)
APP_ROOTS: dict[str, tuple[str, ...]] = {
    "macos": (r"Library/Application Support/Claude(?:-3p)?",),
    "windows": (
        r"AppData/Roaming/Claude(?:-3p)?",
        r"AppData/Local/Claude(?:-3p)?",
        rf"AppData/Local/Claude-Data(?:/(?!(?:{_CLAUDE_DATA_KNOWN})(?:/|$))[^/]+)?",
        r"AppData/Local/Packages/[^/]*Claude_[^/]*/LocalCache/Roaming/Claude(?:-3p)?",
        r"AppData/Local/Packages/[^/]*Claude_[^/]*/LocalCache/Local/Claude(?:-3p)?",
    ),
    "linux": (r"\.config/Claude(?:-3p)?",),
}
"""Application-data roots relative to a home, per OS (doc section 1). Every one is probed."""

LOG_ROOTS: dict[str, tuple[str, ...]] = {
    "macos": (r"Library/Logs/Claude[^/]*",),
    "windows": (),
    "linux": (),
}
"""Log directories outside the app root, relative to a home."""

SYSTEM_ROOTS: tuple[tuple[str, str, ArtifactKind, str], ...] = (
    ("windows", r"(?:/[A-Za-z]:)?/ProgramData/Claude/Logs/coworkd", K.LOG, COWORK),
)
"""Machine-wide roots: (os, laptop path regex, kind, app), with or without the drive letter. Owned by
`SYSTEM_USER`."""

SYSTEM_WALK_BASES: tuple[str, ...] = ("/C:/ProgramData/Claude", "/ProgramData/Claude")

USER_OUTPUT_ROOTS: tuple[str, ...] = ("Claude", "Documents/Claude")
"""User-visible output folders relative to a home (`~/Claude/`, legacy `~/Documents/Claude/`)."""

TRASH_ROOTS: dict[str, tuple[str, ...]] = {
    "macos": (".Trash",),
    "windows": (),
    "linux": (".local/share/Trash/files",),
}
"""Trash folders relative to a home; only entries whose names look like agent histories are reported."""
_TRASH_CANDIDATE = re.compile(
    r"(?i)(?:^|/)(?:claude[^/]*|\.claude[^/]*|local_[0-9a-f][^/]*|[^/]+\.jsonl)(?:/|$)", re.DOTALL
)

CLAUDE_JSON_NAME = re.compile(r"\.claude\.json(?:\.backup[^/]*)?", re.DOTALL)
"""`~/.claude.json` and its backups, relative to a home."""

RESIDUAL_DIRS: tuple[str, ...] = (
    "vm_bundles",
    "IndexedDB",
    "Local Storage",
    "Session Storage",
    "blob_storage",
    "WebStorage",
    "Service Worker",
    "Partitions",
    "Cache",
    "Code Cache",
    "GPUCache",
    "DawnCache",
    "DawnGraphiteCache",
    "DawnWebGPUCache",
    "Crashpad",
    "Network",
    "Shared Dictionary",
    "shared_proto_db",
)
"""App-root subdirectories that are opaque stores: reported as residual, never opened or edited."""

ID = r"(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-fA-F]{8})"

APP_ROOT_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(rf"(?P<store>local-agent-mode-sessions/{ID}/{ID})/(?P<rest>.+)", re.DOTALL), "cowork_store"),
    (re.compile(r"local-agent-mode-sessions/.+", re.DOTALL), "skip"),
    (re.compile(rf"claude-code-sessions/{ID}/{ID}/(?P<sid>local_[^/]+)\.json", re.DOTALL), "code_record"),
    (re.compile(r"(?:" + "|".join(re.escape(d) for d in RESIDUAL_DIRS) + r")/.+", re.DOTALL), "residual"),
    (re.compile(r"logs/.+", re.DOTALL), "log"),
)
"""Paths relative to an app root (doc section 2); anything else under the root is `OTHER`."""

COWORK_STORE_RULES: tuple[tuple[re.Pattern[str], ArtifactKind | str, RecordFormat | None], ...] = (
    (re.compile(r"(?P<sid>local_[^/]+)\.json", re.DOTALL), K.SESSION_RECORD, F.JSON),
    (re.compile(r"agent/(?P<sid>local_(?!ditto_)[^/]+)\.json", re.DOTALL), K.SESSION_RECORD, F.JSON),
    (re.compile(r"agent/(?P<ditto>local_ditto_[^/]+)/(?P<inner>.+)", re.DOTALL), "session_dir", None),
    (re.compile(r"agent/(?P<adir>local_[^/]+|[0-9a-fA-F]{8})/(?P<inner>.+)", re.DOTALL), "session_dir", None),
    (re.compile(r"memory/.+", re.DOTALL), K.MEMORY, None),
    (re.compile(r"spaces/[^/]+/memory/.+", re.DOTALL), K.MEMORY, None),
    (re.compile(r"(?:spaces|artifacts|scheduled-tasks|cowork_account_settings)\.json", re.DOTALL), K.ORG_FILE, F.JSON),
    (re.compile(r"(?P<sdir>local_[^/]+|[0-9a-fA-F]{8})/(?P<inner>.+)", re.DOTALL), "session_dir", None),
)
"""Paths relative to `local-agent-mode-sessions/<A>/<B>/`; unmatched files are `OTHER`."""

SESSION_DIR_RULES: tuple[tuple[re.Pattern[str], ArtifactKind | str, RecordFormat | None], ...] = (
    (re.compile(r"\.claude/(?P<rel>.+)", re.DOTALL), "claude_dir", None),
    (re.compile(r"audit\.jsonl", re.DOTALL), K.AUDIT_LOG, F.JSONL),
    (re.compile(r"\.audit-key", re.DOTALL), K.AUDIT_KEY, F.NONE),
    (re.compile(r"uploads/.+", re.DOTALL), K.UPLOAD, None),
    (re.compile(r"outputs/.+", re.DOTALL), K.OUTPUT, None),
)
"""Paths relative to a Cowork session directory (or a dispatch generation); unmatched are `OTHER`."""

CLAUDE_DIR_RULES: tuple[tuple[re.Pattern[str], ArtifactKind, RecordFormat | None], ...] = (
    (re.compile(r"projects/[^/]+/(?P<cli>[^/]+?)\.orphaned-[^/]*\.jsonl", re.DOTALL), K.TRANSCRIPT, F.JSONL),
    (re.compile(r"projects/[^/]+/(?P<cli>[^/]+)\.jsonl(?:\.superseded-[^/]*)?", re.DOTALL), K.TRANSCRIPT, F.JSONL),
    (re.compile(r"projects/[^/]+/memory/.+", re.DOTALL), K.PROJECT_MEMORY, None),
    (re.compile(r"projects/[^/]+/(?P<cli>[^/]+)/subagents/[^/]+\.meta\.json", re.DOTALL), K.SUBAGENT_META, F.JSON),
    (re.compile(r"projects/[^/]+/(?P<cli>[^/]+)/subagents/[^/]+\.jsonl", re.DOTALL), K.SUBAGENT, F.JSONL),
    (re.compile(r"projects/[^/]+/(?P<cli>[^/]+)/tool-results/.+", re.DOTALL), K.TOOL_RESULT, None),
    (re.compile(r"history\.jsonl", re.DOTALL), K.PROMPT_HISTORY, F.JSONL),
    (re.compile(r"paste-cache/.+", re.DOTALL), K.PASTE_CACHE, None),
    (re.compile(r"file-history/(?P<cli>[^/]+)/.+", re.DOTALL), K.FILE_HISTORY, None),
    (re.compile(r"plans/.+", re.DOTALL), K.PLAN, None),
    (re.compile(rf"todos/(?P<cli>{UUID})?[^/]*", re.DOTALL), K.TODO, F.JSON),
    (re.compile(r"todos/.+", re.DOTALL), K.TODO, None),
    (re.compile(r"tasks/(?P<cli>[^/]+)/.+", re.DOTALL), K.TASK, None),
    (re.compile(r"shell-snapshots/.+", re.DOTALL), K.SHELL_SNAPSHOT, None),
    (re.compile(r"CLAUDE\.md", re.DOTALL), K.MEMORY, F.TEXT),
)
"""Paths relative to a `.claude` directory (`~/.claude`, `$CLAUDE_CONFIG_DIR`, or inside a Cowork session)."""


# ---------------------------------------------------------------------------------------------------------
# Classification (pure: path in, classification out)
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ctx:
    """The OS and OS user a path is classified for."""

    os: str
    os_user: str


def classify_claude_dir(
    rel: str, ctx: Ctx, root: str, app: str, *, session_id: str | None, hint: tuple[str, str, str] | None = None
) -> Classification:
    """Classify a path relative to a `.claude` directory rooted at `root`."""
    for pattern, kind, fixed in CLAUDE_DIR_RULES:
        match = pattern.fullmatch(rel)
        if match:
            cli = match.groupdict().get("cli")
            return Classification(
                kind,
                file_format(rel, kind, fixed),
                ctx.os,
                ctx.os_user,
                app,
                root,
                session_id if app == COWORK else cli,
                cli,
                hint,
            )
    return Classification(
        K.OTHER, file_format(rel, K.OTHER, None), ctx.os, ctx.os_user, app, root, session_id, None, hint
    )


def classify_session_dir(
    inner: str, ctx: Ctx, root: str, *, session_id: str | None, hint: tuple[str, str, str] | None
) -> Classification:
    for pattern, target, fixed in SESSION_DIR_RULES:
        match = pattern.fullmatch(inner)
        if not match:
            continue
        if target == "claude_dir":
            return classify_claude_dir(match["rel"], ctx, root, COWORK, session_id=session_id, hint=hint)
        kind = ArtifactKind(target)
        return Classification(
            kind, file_format(inner, kind, fixed), ctx.os, ctx.os_user, COWORK, root, session_id, None, hint
        )
    return Classification(
        K.OTHER, file_format(inner, K.OTHER, None), ctx.os, ctx.os_user, COWORK, root, session_id, None, hint
    )


_FULL_SESSION = re.compile(rf"local_{UUID}", re.DOTALL)


def classify_cowork_store(rest: str, store: str, ctx: Ctx, root: str) -> Classification:
    for pattern, target, fixed in COWORK_STORE_RULES:
        match = pattern.fullmatch(rest)
        if not match:
            continue
        groups = match.groupdict()
        if target == "session_dir":
            if groups.get("ditto"):
                return classify_session_dir(match["inner"], ctx, root, session_id=None, hint=("ditto", store, ""))
            # The folder of an `agent` session sits beside its record under `agent/`; others in the store.
            sdir = groups.get("adir") or match["sdir"]
            if _FULL_SESSION.fullmatch(sdir):
                return classify_session_dir(match["inner"], ctx, root, session_id=sdir, hint=None)
            short = sdir.removeprefix("local_")[:8].lower()
            what = "agent_short" if groups.get("adir") else "short"
            return classify_session_dir(match["inner"], ctx, root, session_id=None, hint=(what, store, short))
        kind = ArtifactKind(target)
        sid = groups.get("sid")
        return Classification(kind, file_format(rest, kind, fixed), ctx.os, ctx.os_user, COWORK, root, sid, None)
    return Classification(K.OTHER, file_format(rest, K.OTHER, None), ctx.os, ctx.os_user, COWORK, root)


def classify_app_root(rel: str, ctx: Ctx, root: str) -> Classification | None:
    for pattern, action in APP_ROOT_RULES:
        match = pattern.fullmatch(rel)
        if not match:
            continue
        if action == "cowork_store":
            return classify_cowork_store(match["rest"], f"{root}/{match['store']}", ctx, root)
        if action == "skip":
            return None
        if action == "code_record":
            return Classification(
                K.CODE_SESSION_RECORD, F.JSON, ctx.os, ctx.os_user, CLAUDE_CODE, root, match["sid"], None
            )
        if action == "residual":
            return Classification(K.RESIDUAL, F.NONE, ctx.os, ctx.os_user, DESKTOP, root)
        if action == "log":
            return Classification(K.LOG, file_format(rel, K.LOG, None), ctx.os, ctx.os_user, DESKTOP, root)
    return Classification(K.OTHER, file_format(rel, K.OTHER, None), ctx.os, ctx.os_user, DESKTOP, root)


def classify_outside_home(
    path: str, ctx: Ctx, user_data_dirs: Sequence[str], config_dirs: Sequence[str]
) -> tuple[bool, Classification | None]:
    """The rules for configured extra roots and system-wide roots: (whether one applies, its classification)."""
    for extra in user_data_dirs:
        rel = under(path, extra)
        if rel is not None:
            return True, classify_app_root(rel, ctx, extra.rstrip("/"))
    for extra in config_dirs:
        rel = under(path, extra)
        if rel is not None:
            return True, classify_claude_dir(rel, ctx, extra.rstrip("/"), CLAUDE_CODE, session_id=None)
    for os_name, root_re, kind, app in SYSTEM_ROOTS:
        match = re.fullmatch(rf"(?P<root>{root_re})/(?P<rel>.+)", path, re.DOTALL)
        if match:
            found = Classification(
                kind, file_format(match["rel"], kind, None), os_name, SYSTEM_USER, app, match["root"]
            )
            return True, found
    return False, None


def classify_home(home_os: str, home_path: str, rest: str, ctx: Ctx) -> Classification | None:
    """Classify `rest`, a path relative to the home `home_path` of `home_os`; None when no Claude table claims it
    (the other agents' layouts are tried next)."""
    if CLAUDE_JSON_NAME.fullmatch(rest):
        return Classification(K.CLAUDE_JSON, F.JSON, ctx.os, ctx.os_user, CLAUDE_CODE, f"{home_path}/{rest}")
    if rest.startswith(".claude/"):
        return classify_claude_dir(rest[len(".claude/") :], ctx, f"{home_path}/.claude", CLAUDE_CODE, session_id=None)
    for root_re in APP_ROOTS[home_os]:
        match = re.fullmatch(rf"(?P<root>{root_re})/(?P<rel>.+)", rest, re.DOTALL)
        if match:
            return classify_app_root(match["rel"], ctx, f"{home_path}/{match['root']}")
    for log_re in LOG_ROOTS[home_os]:
        match = re.fullmatch(rf"(?P<root>{log_re})/(?P<rel>.+)", rest, re.DOTALL)
        if match:
            root = f"{home_path}/{match['root']}"
            return Classification(K.LOG, file_format(rest, K.LOG, None), ctx.os, ctx.os_user, DESKTOP, root)
    for out in USER_OUTPUT_ROOTS:
        rel = under(rest, out)
        if rel is not None:
            kind = K.USER_OUTPUT
            return Classification(kind, file_format(rel, kind, None), ctx.os, ctx.os_user, COWORK, f"{home_path}/{out}")
    for trash in TRASH_ROOTS[home_os]:
        rel = under(rest, trash)
        if rel is not None and _TRASH_CANDIDATE.search(rel):
            return Classification(
                K.OTHER, file_format(rel, K.OTHER, None), ctx.os, ctx.os_user, DESKTOP, f"{home_path}/{trash}"
            )
    return None


# ---------------------------------------------------------------------------------------------------------
# Records, ages, processes and erasure (the rest of the layout)
# ---------------------------------------------------------------------------------------------------------

RECORD_TIME_FIELDS = ("lastActivityAt", "createdAt")
"""Session-record fields (Cowork and Code-tab records) whose value is the session's last activity."""

LINE_TIME_FIELDS: dict[ArtifactKind, str] = {
    K.TRANSCRIPT: "timestamp",
    K.SUBAGENT: "timestamp",
    K.AUDIT_LOG: "_audit_timestamp",
    K.PROMPT_HISTORY: "timestamp",
}
"""Per kind, the line field whose maximum is the artifact's last activity (doc section 6)."""

SESSION_TIME_KINDS = frozenset({K.SESSION_RECORD, K.CODE_SESSION_RECORD, K.TRANSCRIPT, K.SUBAGENT, K.AUDIT_LOG})
"""The kinds whose times make up a session's last activity."""

PROCESSES = ("Claude", "claude", "Claude.exe", "claude.exe", "Claude Helper")
"""Process names that mean a Claude app runs; with `ACTIVITY_MARKER_GLOBS` (a live `~/.claude/sessions/<pid>.json`),
any of them makes the whole laptop busy."""

KIND_ERASE: dict[ArtifactKind, Erase] = {
    K.SESSION_RECORD: Erase.JSON_REWRITE,
    K.CODE_SESSION_RECORD: Erase.JSON_REWRITE,
    K.CLAUDE_JSON: Erase.JSON_REWRITE,
    K.ORG_FILE: Erase.JSON_REWRITE,
    K.SUBAGENT_META: Erase.JSON_REWRITE,
    K.TODO: Erase.JSON_REWRITE,
    K.TRANSCRIPT: Erase.JSONL_REWRITE,
    K.SUBAGENT: Erase.JSONL_REWRITE,
    K.AUDIT_LOG: Erase.JSONL_REWRITE,  # lines redacted, never re-signed; the original MACs are recorded
    K.PROMPT_HISTORY: Erase.JSONL_REWRITE,
    K.AUDIT_KEY: Erase.WHOLE_ONLY,  # never opened: goes with its session
    K.RESIDUAL: Erase.WHOLE_ONLY,  # opaque app stores: reported, never opened or edited
}
"""How each kind is erased (the letters of docs/histories.md); every other kind is a text edit, or deleted
whole when it is binary. A whole session goes with every file and folder of its own (`layouts.session_dirs`)."""


def erase_method(kind: ArtifactKind, fmt: RecordFormat) -> Erase:
    """How a Claude artifact of `kind` and `fmt` is erased; also how a file no agent's path rule names is
    (whole when binary or never opened, else a text edit). Applied once, at discovery (`Artifact.erase`)."""
    if kind in KIND_ERASE:
        return KIND_ERASE[kind]
    return Erase.WHOLE_ONLY if fmt in (F.BINARY, F.NONE) else Erase.TEXT_EDIT


LAYOUT = AgentLayout(
    app="claude",
    title="Claude (Cowork, Claude Code, desktop)",
    roots=tuple(Root(glob, (os_name,), claim_all=False) for os_name, globs in PROBES.items() for glob in globs),
    processes=PROCESSES,
    held_open=("*",),
    time_fields=("lastActivityAt", "createdAt", "timestamp", "_audit_timestamp"),
)
"""The Claude layout in the shape every agent declares: roots per OS (what is probed), processes, files held
open and time fields. Classification uses the tables above; `APPS` are the names its artifacts carry."""
