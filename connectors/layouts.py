"""Agent-history discovery: recognising homes and their OS from what the tree holds, listing every agent's
store, classifying each file with the agents' layouts, session grouping, records and ages, and coverage gaps
(agent-like stores no layout claims). Decides nothing about policy and never opens audit keys, residual or
encrypted stores.

Each agent's layout lives in its own module of `connectors.agents` (Claude Cowork, Claude Code and the
desktop app in `connectors.agents.claude`); the Claude names used across the code base (`ArtifactKind`,
`COWORK`, `RESIDUAL_DIRS`, `SessionRecord`, ...) are re-exported here.

Discovery lists only the candidate locations of `HOME_PROBES` in every home (`/Users/<u>`, `/<drive>:/Users/<u>`,
`/home/<u>`, `/root`; a `/Users` home is Windows when it holds `AppData`) plus the machine-wide roots when the
connector can list directory names (`NameLister`), else it walks the home bases whole; either way each path
is classified with the Claude tables, then with the other agents' layouts, so Store package families and
slug directories are matched by pattern, never constructed. To add an agent, add a module to
`connectors.agents`; a new Claude location goes into the tables of `connectors.agents.claude`.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import BinaryIO, Protocol, runtime_checkable

import zstandard

from connectors.agents import SKIP, agent_layout, agent_probes, classify_agent_path, claude
from connectors.agents.base import (
    EXTENSION_FORMATS,
    OTHER_AGENT_KINDS,
    TEXT_LIKE_KINDS,
    ArtifactKind,
    Classification,
    Erase,
    under,
)
from connectors.agents.base import file_format as _fmt
from connectors.agents.claude import (
    ACTIVITY_MARKER_GLOBS,
    APP_ROOTS,
    CLAUDE_CODE,
    COWORK,
    DESKTOP,
    RESIDUAL_DIRS,
    SYSTEM_USER,
    SYSTEM_WALK_BASES,
    SessionRecord,
)
from connectors.agents.claude import Ctx as _Ctx
from connectors.base import Connector, Item, Skipped
from connectors.records import RecordFormat, decode_json, iter_records, read_up_to
from models.errors import AccessDeniedError, DatabaseError

__all__ = [
    "ACTIVITY_MARKER_GLOBS",
    "APP_ROOTS",
    "CLAUDE_CODE",
    "COWORK",
    "DESKTOP",
    "EXTENSION_FORMATS",
    "OTHER_AGENT_KINDS",
    "RESIDUAL_DIRS",
    "SYSTEM_USER",
    "TEXT_LIKE_KINDS",
    "Artifact",
    "ArtifactKind",
    "Classification",
    "CoverageGap",
    "NameLister",
    "RecordFormat",
    "SessionRecord",
    "artifact_age",
    "artifact_last_activity_at",
    "classify_location",
    "classify_path",
    "find_gaps",
    "iter_artifacts",
    "list_homes",
    "read_session_record",
    "session_age",
    "session_last_activity_at",
]

K = ArtifactKind
F = RecordFormat


@dataclass(frozen=True, slots=True)
class Artifact:
    """One file of an agent history, classified.

    Attributes:
        item: the file as the connector listed it (`item.path` is the path as the laptop sees it).
        kind: what the file is.
        fmt: how to read it (`NONE`: never opened).
        os: "macos" | "windows" | "linux".
        os_user: the owning OS user (home directory name; `SYSTEM` for machine-wide files).
        app: "cowork" | "claude-code" | "claude-desktop".
        root: the application or store root it was found under (laptop path).
        session_id: Cowork `local_<uuid>` for everything inside a Cowork session; the transcript stem for
            `~/.claude/projects/*/<id>.jsonl` and files under `<id>/`; None elsewhere.
        cli_session_id: the engine (CLI) session id where the path names one.
        erase: how the file is erased, decided here once: the agent's path rule that classified it (only
            rules of roots valid on the home's OS apply), or, for Claude's files and files no rule names,
            `claude.erase_method` by kind and format. Erasure plans read it from here.
    """

    item: Item
    kind: ArtifactKind
    fmt: RecordFormat
    os: str
    os_user: str
    app: str
    root: str
    session_id: str | None
    cli_session_id: str | None
    erase: Erase


# ---------------------------------------------------------------------------------------------------------
# Homes
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HomeBase:
    """Where an OS keeps home directories; `single_user` for a base that is itself one home (`/root`)."""

    os: str
    base: str
    single_user: str | None = None


HOME_BASES: tuple[HomeBase, ...] = (
    HomeBase("macos", "/Users"),  # or a Windows disk with `Users` at the root: `list_homes` looks inside
    HomeBase("windows", "/C:/Users"),
    HomeBase("linux", "/home"),
    HomeBase("linux", "/root", single_user="root"),
)

HOME_PROBES: dict[str, tuple[str, ...]] = {
    os_name: tuple(dict.fromkeys((*claude.PROBES[os_name], *agent_probes(os_name)))) for os_name in claude.PROBES
}
"""Locations listed per home (glob components matched against directory names): the Claude layout's and the
other agents' roots."""


# ---------------------------------------------------------------------------------------------------------
# Classification (pure: path in, classification out)
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Home:
    """A home directory on the laptop: its OS (by content or override), owner and path, and the rest of a path."""

    os: str
    user: str
    path: str
    rest: str


_HOME_RE = re.compile(
    r"(?P<home>(?P<drive>/[A-Za-z]:)?/Users/(?P<user>[^/]+)|/home/(?P<luser>[^/]+)|/root)/(?P<rest>.+)", re.DOTALL
)
"""Homes as a tree holds them: `/Users/<u>` (macOS, or a Windows disk mounted or restored at the root),
`/<drive>:/Users/<u>` (a Windows disk as OpenSSH's SFTP shows it), `/home/<u>` and `/root` (Linux)."""

OS_MARKERS: tuple[tuple[str, str], ...] = (("AppData", "windows"), ("Library", "macos"))
"""Directory names in a home that tell its OS: `AppData` only exists on Windows, `Library` on macOS."""


def home_os_by_content(names: Iterable[str]) -> str | None:
    """The OS a home belongs to from the names directly in it (`AppData`: Windows, `Library`: macOS)."""
    present = set(names)
    for marker, os_name in OS_MARKERS:
        if marker in present:
            return os_name
    return None


def _home_of(path: str, hints: Mapping[str, str] | None = None) -> Home | None:
    """The home a laptop path lies in, with the home's OS.

    The OS comes from `hints` (home path -> OS, from the home's content or the endpoint's configured `os`);
    without a hint a drive letter means Windows, `/home` and `/root` Linux, and `/Users/<u>` Windows when
    the path runs through `AppData`, else macOS.
    """
    match = _HOME_RE.fullmatch(path)
    if match is None:
        return None
    home, rest = match["home"], match["rest"]
    user = match["user"] or match["luser"] or "root"
    os_name = (hints or {}).get(home)
    if os_name is None:
        if match["drive"]:
            os_name = "windows"
        elif match["user"] is None:
            os_name = "linux"
        else:
            os_name = "windows" if rest.split("/", 1)[0] == "AppData" else "macos"
    return Home(os_name, user, home, rest)


def _os_of_path(path: str, hints: Mapping[str, str] | None = None) -> str:
    home = _home_of(path, hints)
    if home is not None:
        return home.os
    return "windows" if re.match(r"/(?:[A-Za-z]:/|ProgramData/)", path) else "linux"


_under = under


def classify_path(
    path: str,
    *,
    user_data_dirs: Sequence[str] = (),
    config_dirs: Sequence[str] = (),
    os_hints: Mapping[str, str] | None = None,
) -> Classification | None:
    """Classify a laptop path against the layout tables; None if it is not part of an agent history.

    Args:
        path: absolute laptop path (`/Users/ana/...`, `/C:/Users/...`).
        user_data_dirs: extra app roots (`$CLAUDE_USER_DATA_DIR`), laptop paths.
        config_dirs: extra `.claude` directories (`$CLAUDE_CONFIG_DIR`), laptop paths.
        os_hints: home path -> OS (from the home's content or the endpoint's `os`); see `_home_of`.
    """
    home = _home_of(path, os_hints)
    ctx = _Ctx(home.os, home.user) if home else _Ctx(_os_of_path(path, os_hints), SYSTEM_USER)
    matched, found = claude.classify_outside_home(path, ctx, user_data_dirs, config_dirs)
    if matched or home is None:
        return found
    found = claude.classify_home(home.os, home.path, home.rest, ctx)
    return found if found is not None else _classify_home_rest(home, ctx)


def _classify_home_rest(home: Home, ctx: _Ctx) -> Classification | None:
    """The rest of a home: the other agents' layouts."""
    home_path, rest = home.path, home.rest
    agent = classify_agent_path(home.os, rest)
    if agent is None or agent.kind == SKIP:
        return None
    kind = ArtifactKind(agent.kind)
    root = f"{home_path}/{agent.root}" if agent.root else home_path
    fmt = agent.fmt if agent.fmt is not None else _fmt(rest, kind, None)
    return Classification(kind, fmt, ctx.os, ctx.os_user, agent.app, root, agent.session_id, erase=agent.erase)


def classify_location(
    path: str,
    *,
    user_data_dirs: Sequence[str] = (),
    config_dirs: Sequence[str] = (),
    os_hints: Mapping[str, str] | None = None,
) -> Classification | None:
    """Like `classify_path`, but a directory (or a link to one) counts if a file directly in it would.

    Used to decide whether a skipped entry (a symlinked or unreadable directory) lies in a history location.
    """
    return classify_path(
        path, user_data_dirs=user_data_dirs, config_dirs=config_dirs, os_hints=os_hints
    ) or classify_path(
        path.rstrip("/") + "/_", user_data_dirs=user_data_dirs, config_dirs=config_dirs, os_hints=os_hints
    )


# ---------------------------------------------------------------------------------------------------------
# Discovery
# ---------------------------------------------------------------------------------------------------------


@runtime_checkable
class NameLister(Protocol):
    """Optional connector capability: names in a directory, so discovery lists only candidate locations.

    `list_names(path)` returns the entry names of the directory `path` (sorted; empty if it does not exist
    or is not a directory) and raises `AccessDeniedError` if it may not be listed or leads out of the root.
    """

    def list_names(self, path: str) -> list[str]: ...


def _add_base(bases: list[str], path: str) -> None:
    """Add a base to list unless one already covers it; a base it covers is dropped (each file is listed once,
    e.g. an extension folder probed before its editor's user directory)."""
    path = path.rstrip("/") or "/"
    if any(path == base or _under(path, base) is not None for base in bases):
        return
    bases[:] = [base for base in bases if _under(base, path) is None]
    bases.append(path)


def _walk_bases(user_data_dirs: Sequence[str], config_dirs: Sequence[str]) -> list[str]:
    bases: list[str] = []
    for path in (*(base.base for base in HOME_BASES), *SYSTEM_WALK_BASES, *user_data_dirs, *config_dirs):
        _add_base(bases, path)
    return bases


def endpoint_os(connector: object) -> str | None:
    """The OS configured for the endpoint behind `connector` (`[[endpoints]] os`), if any."""
    value = getattr(connector, "os_override", None)
    return value if value in ("macos", "windows", "linux") else None


def _home_bases(lister: NameLister) -> list[HomeBase]:
    """`HOME_BASES` plus `/<drive>:/Users` for every drive-letter directory at the laptop's root; a
    single-user base (`/root`) only when the root lists it."""
    try:
        names: list[str] | None = lister.list_names("/")
    except AccessDeniedError:
        names = None
    bases = [b for b in HOME_BASES if b.single_user is None or names is None or b.base[1:] in names]
    for name in names or ():
        if re.fullmatch(r"[A-Za-z]:", name) and not any(b.base == f"/{name}/Users" for b in bases):
            bases.append(HomeBase("windows", f"/{name}/Users"))
    return bases


@dataclass(frozen=True, slots=True)
class HomeDir:
    """One home directory found on the laptop; `os` None when neither its place nor its content tells."""

    path: str
    os: str | None


def list_homes(lister: NameLister, os_override: str | None = None) -> tuple[list[HomeDir], list[str]]:
    """Every home directory on the laptop, with its OS recognised from what the tree holds.

    A home under a drive letter is Windows, under `/home` (or `/root`) Linux; a home under `/Users` is
    Windows when it holds `AppData` (a Windows disk mounted, imaged or restored with `Users` at its root),
    macOS when it holds `Library`. `os_override` (the endpoint's configured `os`) wins over all of that.

    Returns:
        (homes, home bases that could not be listed).
    """
    homes: list[HomeDir] = []
    refused: list[str] = []
    for home_base in _home_bases(lister):
        if home_base.single_user is not None:
            paths = [home_base.base]
        else:
            try:
                paths = [f"{home_base.base}/{name}" for name in lister.list_names(home_base.base)]
            except AccessDeniedError:
                refused.append(home_base.base)
                continue
        for path in paths:
            if os_override is not None:
                homes.append(HomeDir(path, os_override))
                continue
            if home_base.base != "/Users":
                homes.append(HomeDir(path, home_base.os))
                continue
            try:
                found = home_os_by_content(lister.list_names(path))
            except AccessDeniedError:
                found = None
            homes.append(HomeDir(path, found))
    return homes, refused


def os_hints_for(connector: Connector, os_override: str | None = None) -> dict[str, str]:
    """Home path -> OS for every home whose OS is known (see `list_homes`); empty without `list_names`."""
    os_override = os_override or endpoint_os(connector)
    if not isinstance(connector, NameLister):
        return {}
    try:
        homes, _refused = list_homes(connector, os_override)
    except AccessDeniedError:
        return {}
    return {home.path: home.os for home in homes if home.os is not None}


_NOT_PROJECT_DIRS = frozenset({"Library", "AppData", "node_modules", "Applications", "Pictures", "Music", "Movies"})


def _expand(lister: NameLister, path: str, parts: Sequence[str], *, report: bool = True) -> Iterator[str]:
    """Expand glob components of `parts` below `path` with directory listings.

    `report=False` for best-effort searches through the user's own folders (Aider's `*/.aider*`): a folder
    that cannot be listed there is no history location, so it is not reported as skipped.
    """
    if not parts:
        yield path
        return
    head, rest = parts[0], parts[1:]
    if not any(ch in head for ch in "*?["):
        yield from _expand(lister, f"{path}/{head}", rest, report=report)
        return
    try:
        names = lister.list_names(path)
    except AccessDeniedError:
        if report:
            yield path  # listing it reports the refusal as a Skipped entry
        return
    for name in names:
        if not report and (name.startswith(".") or name in _NOT_PROJECT_DIRS) and head.startswith("*"):
            continue  # best-effort searches go through the user's project folders only
        if fnmatch.fnmatchcase(name, head):
            yield from _expand(lister, f"{path}/{name}", rest, report=report)


def _probe_bases(
    lister: NameLister, user_data_dirs: Sequence[str], config_dirs: Sequence[str], os_override: str | None
) -> tuple[list[str], dict[str, str]]:
    bases: list[str] = []
    homes, refused = list_homes(lister, os_override)
    for base in refused:
        _add_base(bases, base)
    for home in homes:
        # A home whose OS neither its place nor its content tells is probed for both `/Users` systems.
        probes = HOME_PROBES[home.os] if home.os else (*HOME_PROBES["macos"], *HOME_PROBES["windows"])
        for probe in dict.fromkeys(probes):
            for path in _expand(lister, home.path, probe.split("/"), report=not probe.startswith("*")):
                _add_base(bases, path)
    for path in (*SYSTEM_WALK_BASES, *user_data_dirs, *config_dirs):
        _add_base(bases, path)
    return bases, {home.path: home.os for home in homes if home.os is not None}


# ---------------------------------------------------------------------------------------------------------
# Coverage gaps: agent-like stores that no layout claims
# ---------------------------------------------------------------------------------------------------------

GAP_CONTAINERS: tuple[str, ...] = (
    "",
    "Documents",
    ".config",
    ".local/share",
    ".local/state",
    "Library/Application Support",
    "Library/Logs",
    "AppData/Roaming",
    "AppData/Local",
    "AppData/Local/Packages",
)
"""Directories (relative to a home, `""` the home itself) where agents keep their stores; every entry in
them whose name looks like an agent's is either claimed by a layout or reported as a coverage gap."""

NOT_A_STORE = re.compile(r"(?i)^(?:AnthropicClaude|Programs)$|(?:updater|update|installer|setup|crashpad)$")
"""Agent-like names that are installations, not stores (Squirrel install folders, updaters)."""

AGENT_LIKE_NAME = re.compile(
    r"(?i)claude|anthropic|codex|openai|chatgpt|gemini|copilot|cline|windsurf|codeium|opencode|kilo-?code"
    r"|^\.?(?:cursor|continue|pearai|zed|aider)(?:$|[^a-z])",
)
"""Names of files or directories that look like an AI agent's store."""


@dataclass(frozen=True, slots=True)
class CoverageGap:
    """A place that looks like an agent store but that no layout reads: reported, never called scanned.

    Attributes:
        path: laptop path of the directory or file.
        os: the home's OS.
        os_user: the home's owner.
        relative: the path relative to the home (no user name), for statuses and reasons.
        reason: why it is a gap (`unrecognised_agent_store`).
    """

    path: str
    os: str
    os_user: str
    relative: str
    reason: str = "unrecognised_agent_store"

    def to_dict(self) -> dict[str, str]:
        """JSON form."""
        return {"path": self.path, "os": self.os, "os_user": self.os_user, "relative": self.relative,
                "reason": self.reason}  # fmt: skip


def find_gaps(connector: Connector, *, os_override: str | None = None) -> list[CoverageGap]:
    """Agent-like entries in every home's usual store folders (`GAP_CONTAINERS`) that no layout claims.

    An unknown app version or an unexpected root (`Library/Application Support/Claude-Nightly`,
    `AppData/Roaming/Claude` on a home recognised as macOS) must not make a laptop look fully scanned.
    Needs `list_names`; a connector without it reports no gaps (it walks the home bases whole).
    """
    if not isinstance(connector, NameLister):
        return []
    os_override = os_override or endpoint_os(connector)
    try:
        homes, _refused = list_homes(connector, os_override)
    except AccessDeniedError:
        return []
    gaps: list[CoverageGap] = []
    for home in homes:
        located = _home_of(f"{home.path}/_", {home.path: home.os} if home.os else None)
        if located is None:
            continue
        for container in GAP_CONTAINERS:
            base = f"{home.path}/{container}" if container else home.path
            try:
                names = connector.list_names(base)
            except AccessDeniedError:
                continue
            for name in names:
                rel = f"{container}/{name}" if container else name
                if not AGENT_LIKE_NAME.search(name) or NOT_A_STORE.search(name) or _claimed_for(rel, home.os):
                    continue
                gaps.append(CoverageGap(f"{base}/{name}", located.os, located.user, rel))
    return gaps


def _claimed_for(rel: str, os_name: str | None) -> bool:
    """Whether a layout probe of the home's OS (of every OS when unknown) reaches `rel` (relative to the
    home): it lies on or under a probed location."""
    parts = rel.split("/")
    probes = HOME_PROBES[os_name] if os_name else tuple(p for ps in HOME_PROBES.values() for p in ps)
    for probe in probes:
        if probe.startswith("*"):
            continue  # a best-effort search through the user's folders claims no folder

        globs = probe.split("/")
        n = min(len(globs), len(parts))
        if all(fnmatch.fnmatchcase(parts[i], globs[i]) for i in range(n)):
            return True
    return False


def _reached_by_link(
    path: str, base: str, user_data_dirs: Sequence[str], config_dirs: Sequence[str], hints: Mapping[str, str]
) -> Classification | None:
    """A file listed under its own path because a symlink in the history location `base` led to it.

    Its own path is not a history location, so it is reported as `OTHER` of the location the link is in
    (and scanned by its extension's format) rather than dropped.
    """
    where = classify_location(base, user_data_dirs=user_data_dirs, config_dirs=config_dirs, os_hints=hints)
    if where is None:
        return None
    return Classification(K.OTHER, _fmt(path, K.OTHER, None), where.os, where.os_user, where.app, where.root)


def iter_artifacts(
    connector: Connector,
    *,
    user_data_dirs: Sequence[str] = (),
    config_dirs: Sequence[str] = (),
    full_walk: bool = False,
    os_override: str | None = None,
) -> Iterator[Artifact | Skipped]:
    """Discover every agent-history artifact of every OS user on the endpoint.

    Lists the candidate locations of every home (or, for a connector without `list_names`, walks the home
    bases whole) and the machine-wide roots, and classifies every file; entries the connector
    skipped are passed on when their path belongs to a history. Files of 8-hex short session directories
    and dispatch generations get the session id of the matching record in the same store (when exactly
    one matches); they are held back only until that record has been seen.

    Args:
        connector: the endpoint.
        user_data_dirs: `$CLAUDE_USER_DATA_DIR` values to probe as extra app roots (laptop paths).
        config_dirs: `$CLAUDE_CONFIG_DIR` values to probe as extra `.claude` directories (laptop paths).
        full_walk: walk the home bases whole even if the connector can list names (for checks).
        os_override: the endpoint's configured OS; when None, the connector's `os_override` attribute if
            it has one; when both are None each home's OS is recognised from its content (`list_homes`).

    Yields:
        `Artifact` per history file and `Skipped` per refused entry inside a history location.
    """
    sessions = _SessionIndex()
    held: list[tuple[Artifact, tuple[str, str, str]]] = []
    os_override = os_override or endpoint_os(connector)
    if isinstance(connector, NameLister) and not full_walk:
        bases, hints = _probe_bases(connector, user_data_dirs, config_dirs, os_override)
    else:
        bases, hints = _walk_bases(user_data_dirs, config_dirs), os_hints_for(connector, os_override)
    for base in bases:
        for entry in connector.iter_items(base):
            if isinstance(entry, Skipped):
                where = classify_location(
                    entry.path, user_data_dirs=user_data_dirs, config_dirs=config_dirs, os_hints=hints
                )
                if where is not None or entry.path == base:
                    yield entry
                continue
            found = classify_path(entry.path, user_data_dirs=user_data_dirs, config_dirs=config_dirs, os_hints=hints)
            if found is None and _under(entry.path, base) is None and entry.path != base:
                found = _reached_by_link(entry.path, base, user_data_dirs, config_dirs, hints)
            if found is None:
                continue
            artifact = Artifact(
                entry,
                found.kind,
                found.fmt,
                found.os,
                found.os_user,
                found.app,
                found.root,
                found.session_id,
                found.cli_session_id,
                found.erase if found.erase is not None else claude.erase_method(found.kind, found.fmt),
            )
            sessions.note(entry.path, found)
            if found.session_hint is not None:
                sid = sessions.resolve(found.session_hint)
                if sid is None:
                    held.append((artifact, found.session_hint))
                    continue
                artifact = dataclasses.replace(artifact, session_id=sid)
            yield artifact
    for artifact, hint in held:
        yield dataclasses.replace(artifact, session_id=sessions.resolve(hint))


class _SessionIndex:
    """The session records seen so far per store, to give short-id files the id of their session."""

    def __init__(self) -> None:
        self.records: dict[str, list[str]] = {}  # store -> session ids of records directly in it
        self.agents: dict[str, list[str]] = {}  # store -> session ids of agent/ records

    def note(self, path: str, found: Classification) -> None:
        if found.kind is K.SESSION_RECORD and found.session_id:
            store = path.rsplit("/", 1)[0]
            if store.endswith("/agent"):
                self.agents.setdefault(store[: -len("/agent")], []).append(found.session_id)
            else:
                self.records.setdefault(store, []).append(found.session_id)

    def resolve(self, hint: tuple[str, str, str]) -> str | None:
        """The one session a hint (what, store, short id) matches among those seen, else None."""
        what, store, short = hint
        if what == "ditto":
            candidates = self.agents.get(store, [])
        elif what == "agent_short":
            candidates = [sid for sid in self.agents.get(store, []) if sid.lower().startswith(f"local_{short}")]
        else:
            candidates = [sid for sid in self.records.get(store, []) if sid.lower().startswith(f"local_{short}")]
        return candidates[0] if len(candidates) == 1 else None


def session_dirs(session_id: str, paths: Iterable[str], others: Iterable[str]) -> list[str]:
    """The directories that belong to one session alone, removed after its files (erasure and retention).

    A directory belongs to the session when it is the first path component equal to the session id, its
    8-hex short form or a dispatch generation (`local_ditto_*`), wherever the store nests it (`agent/`
    included); it is listed only when none of `others` (files of other sessions or outside any) lives under it.

    Args:
        session_id: the session.
        paths: every file of the session.
        others: every other file of the location.
    """
    short = session_id.removeprefix("local_")[:8]
    dirs: set[str] = set()
    for path in paths:
        parts = path.split("/")
        for index, part in enumerate(parts[:-1]):
            if part in (session_id, short) or part.startswith("local_ditto_"):
                dirs.add("/".join(parts[: index + 1]))
                break
    rest = list(others)
    return sorted(d for d in dirs if not any(o.startswith(d + "/") for o in rest))


# ---------------------------------------------------------------------------------------------------------
# Records and ages (doc section 6)
# ---------------------------------------------------------------------------------------------------------

MAX_RECORD_BYTES = 16 << 20


def parse_timestamp(value: object) -> datetime | None:
    """An aware UTC datetime from epoch milliseconds/seconds or an ISO string; None if unusable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = value / 1000 if abs(value) > 1e11 else float(value)
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return None


def read_session_record(connector: Connector, artifact: Artifact) -> SessionRecord | None:
    """Read the typed fields of a Cowork or Code-tab session record.

    Returns:
        The record, or None when the file is not a JSON object (or larger than 16 MiB). The session id is
        the record's string `sessionId`, else the file name stem.
    """
    with connector.open(artifact.item) as stream:
        data = read_up_to(stream, MAX_RECORD_BYTES + 1)
    if len(data) > MAX_RECORD_BYTES:
        return None
    try:
        doc = decode_json(data.removeprefix(b"\xef\xbb\xbf"))
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None

    def text(*keys: str) -> str | None:
        for key in keys:
            value = doc.get(key)
            if isinstance(value, str):
                return value
        return None

    stem = artifact.item.path.rsplit("/", 1)[-1].removesuffix(".json")
    return SessionRecord(
        session_id=text("sessionId") or stem,
        cli_session_id=text("cliSessionId"),
        email_address=text("emailAddress"),
        account_id=text("accountId", "accountUuid"),
        title_present=bool(text("title")),
        created_at=parse_timestamp(doc.get("createdAt")),
        last_activity_at=parse_timestamp(doc.get("lastActivityAt")),
        session_type=text("sessionType"),
        path=artifact.item.path,
    )


_LINE_TIME_FIELDS = claude.LINE_TIME_FIELDS


def _last_line_time(connector: Connector, artifact: Artifact, field: str) -> datetime | None:
    latest: datetime | None = None
    with connector.open(artifact.item) as stream:
        for record in iter_records(stream, artifact.fmt):
            if isinstance(record.value, dict):
                stamp = parse_timestamp(record.value.get(field))
                if stamp is not None and (latest is None or stamp > latest):
                    latest = stamp
    return latest


_MAX_TIME_DEPTH = 6


def _newest_named(value: object, fields: frozenset[str], depth: int = 0) -> datetime | None:
    """The newest timestamp held under any of `fields`, searched a few levels into a decoded record."""
    latest: datetime | None = None
    if depth > _MAX_TIME_DEPTH:
        return None
    if isinstance(value, dict):
        items: Iterable[tuple[object, object]] = value.items()
    elif isinstance(value, list):
        items = ((None, v) for v in value)
    else:
        return None
    for key, child in items:
        found = parse_timestamp(child) if key in fields else _newest_named(child, fields, depth + 1)
        if found is not None and (latest is None or found > latest):
            latest = found
    return latest


def _agent_last_activity(connector: Connector, artifact: Artifact) -> datetime | None:
    """Another agent's artifact: the newest value of its layout's time fields in any record or row; None
    when there is none or the file cannot be decoded (corrupt database or compressed file: mtime then)."""
    try:
        return _agent_times(connector, artifact)
    except (DatabaseError, zstandard.ZstdError):
        return None


def _agent_times(connector: Connector, artifact: Artifact) -> datetime | None:
    layout = agent_layout(artifact.app)
    if layout is None or not layout.time_fields:
        return None
    fields = frozenset(layout.time_fields)
    latest: datetime | None = None
    if artifact.fmt is F.SQLITE:
        from connectors.sqlite_store import iter_db_records, private_copy  # noqa: PLC0415 - avoids a cycle

        with private_copy(connector, artifact.item) as copy:
            for row in iter_db_records(copy):
                found = _newest_named(
                    {k: (c.value if c.value is not None else c.raw) for k, c in row.cells.items()}, fields
                )
                if found is not None and (latest is None or found > latest):
                    latest = found
        return latest
    if artifact.fmt not in (F.JSONL, F.JSON, F.JSONL_ZSTD):
        return None
    with connector.open(artifact.item) as raw:
        stream: BinaryIO = raw
        fmt = artifact.fmt
        if fmt is F.JSONL_ZSTD:
            stream, fmt = zstandard.ZstdDecompressor().stream_reader(raw), F.JSONL
        for record in iter_records(stream, fmt):
            found = _newest_named(record.value, fields)
            if found is not None and (latest is None or found > latest):
                latest = found
    return latest


def row_last_activity_at(app: str, cells: Mapping[str, object]) -> datetime | None:
    """The newest value of an agent's declared time fields in one database row (decoded cells, numbers as
    stored); None when the row holds none (or the agent declares none)."""
    layout = agent_layout(app)
    if layout is None or not layout.time_fields:
        return None
    return _newest_named(dict(cells), frozenset(layout.time_fields))


def artifact_last_activity_at(connector: Connector, artifact: Artifact) -> datetime:
    """When the artifact last saw activity: record `lastActivityAt`, the latest line timestamp
    (`timestamp`, `_audit_timestamp`) for line-based histories, the newest of the agent's declared time
    fields for the other agents (epoch seconds, epoch ms or ISO 8601), the file mtime as a last resort.
    """
    if agent_layout(artifact.app) is not None:
        return _agent_last_activity(connector, artifact) or artifact.item.modified_at
    if artifact.kind in (K.SESSION_RECORD, K.CODE_SESSION_RECORD):
        record = read_session_record(connector, artifact)
        if record is not None and (record.last_activity_at or record.created_at):
            return record.last_activity_at or record.created_at or artifact.item.modified_at
    field = _LINE_TIME_FIELDS.get(artifact.kind)
    if field is not None:
        latest = _last_line_time(connector, artifact, field)
        if latest is not None:
            return latest
    return artifact.item.modified_at


def artifact_age(connector: Connector, artifact: Artifact, *, now: datetime | None = None) -> timedelta:
    """Age of one artifact per doc section 6 (`now` defaults to the current UTC time)."""
    return (now or datetime.now(tz=UTC)) - artifact_last_activity_at(connector, artifact)


_SESSION_TIME_KINDS = claude.SESSION_TIME_KINDS


def session_last_activity_at(connector: Connector, artifacts: Iterable[Artifact]) -> datetime | None:
    """Last activity of one session from its artifacts.

    max(record `lastActivityAt`, last transcript `timestamp`, last `_audit_timestamp`); the newest mtime of
    the session's files only when none of those exists (appends refresh mtimes). None for no artifacts.
    """
    stamps: list[datetime] = []
    mtimes: list[datetime] = []
    for artifact in artifacts:
        mtimes.append(artifact.item.modified_at)
        if agent_layout(artifact.app) is not None:
            found = _agent_last_activity(connector, artifact)
            if found is not None:
                stamps.append(found)
        elif artifact.kind is K.SESSION_RECORD or artifact.kind is K.CODE_SESSION_RECORD:
            record = read_session_record(connector, artifact)
            if record is not None and record.last_activity_at is not None:
                stamps.append(record.last_activity_at)
        elif artifact.kind in _SESSION_TIME_KINDS:
            latest = _last_line_time(connector, artifact, _LINE_TIME_FIELDS[artifact.kind])
            if latest is not None:
                stamps.append(latest)
    if stamps:
        return max(stamps)
    return max(mtimes) if mtimes else None


def session_age(
    connector: Connector, artifacts: Iterable[Artifact], *, now: datetime | None = None
) -> timedelta | None:
    """Age of one session (its artifacts given) per doc section 6; None when there are no artifacts."""
    last = session_last_activity_at(connector, artifacts)
    return None if last is None else (now or datetime.now(tz=UTC)) - last
