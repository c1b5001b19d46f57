"""The erasure plan: what to delete, redact, rewrite or keep, per item, decided from the discovery results.

Owns the decision rules (docs/legal-rules.md: erasure and holds; docs/histories.md: how each store is
changed) and the plan's JSON form. Pure: no I/O, no Prefect. The plan holds no personal data: locations,
paths, line numbers, hashes, version tokens, action kinds, reasons and grounds only (never finding content).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from connectors.agents.base import Erase
from connectors.base import Item
from connectors.layouts import RESIDUAL_DIRS, session_dirs
from connectors.shadow_git import repository_of
from detection.findings import Finding
from erasure.discovery import ArtifactInfo, LocationDiscovery
from models.errors import InputError
from models.holds import hold_covers, hold_from_settings
from models.settings import Art17Exception, ErasureSettings, HoldSettings

PLAN_FORMAT = "dsr-erasure-plan/1"
VENDOR_LOCATION = "vendor"

# Kinds whose JSONL lines are the session's conversation records (the denominator of "mainly about").
_RECORD_KINDS = frozenset({"transcript"})
_SESSION_RECORD_KINDS = frozenset({"session_record", "code_session_record"})


class ActionKind(StrEnum):
    """What an action does."""

    DELETE_SESSION = "delete_session"  # record, session files, session directories (policy 1)
    DELETE_FILE = "delete_file"  # a whole file that cannot be redacted line by line (binary)
    REDACT = "redact"  # redact named lines in place (policy 2), audit logs never re-signed
    S3_ERASE_OBJECT = "s3_erase_object"  # every version of a key mainly about the subject
    S3_REWRITE = "s3_rewrite"  # new current version without the subject's records, then delete old versions
    S3_DELETE_VERSIONS = "s3_delete_versions"  # non-current versions holding the subject
    EXCEPTION = "exception"  # kept: legal hold, Art. 17(3) ground, Object Lock, residual store, vendor copy
    NOT_REACHED = "not_reached"  # could not be read or changed (reason: the skip reason); never a legal ground


class Reason(StrEnum):
    """Why an action was planned."""

    OWNED_SESSION = "owned_session"
    MAINLY_ABOUT = "mainly_about"
    THIRD_PARTY_SESSION = "third_party_session"
    NO_SESSION = "no_session"
    UNREDACTABLE = "unredactable"
    FREE_PAGES = "free_pages"  # a database that holds the subject only in free pages or a stale WAL: VACUUM
    SHADOW_GIT = "shadow_git"  # a shadow git repository holding the subject: deleted whole (never rewritten)
    CONTENT_ADDRESSED = "content_addressed"  # a content-addressed store: editing breaks its keys, deleted whole
    OWNER_ENCRYPTED = "owner_encrypted_store"  # an encrypted conversation on the subject's own laptop: whole
    OBJECT_MAINLY_ABOUT = "object_mainly_about"
    OBJECT_PARTLY_ABOUT = "object_partly_about"
    OLD_VERSIONS = "old_versions"
    LEGAL_HOLD = "legal_hold"
    ART17_3 = "art17_3"
    OBJECT_LOCK = "object_lock"
    RESIDUAL_STORE = "residual_store"
    ENCRYPTED_STORE = "encrypted_store"  # encrypted by the vendor: never opened; vendor request
    VENDOR_SIDE_COPY = "vendor_side_copy"
    NOT_IDENTIFIED = "not_identified"
    NOT_REACHED = "not_reached"
    NOT_READ = "not_read"  # a file or version holding findings whose content could not be read whole
    WHOLE_ONLY_SHARED = "whole_only_shared"  # lines in another person's file its agent allows only whole: kept


@dataclass(frozen=True)
class PlannedAction:
    """One thing the executor does (or, for exceptions, records) at one location.

    Attributes:
        action_id: stable id (hash of the action's defining fields).
        kind: what it does.
        location: endpoint or store name (`vendor` for vendor-side copies).
        location_type: `endpoint`, `store` or `vendor`.
        reason: why (`Reason` value); for `not_reached` the reason the item could not be read or changed
            (`symlink_out_of_scope`, `special_file`, `permission_denied`, `not_read`, ...).
        path: the file, key, or session record path the action is about.
        session_id: the session, where there is one.
        lines: 1-based line numbers concerned (redacted, dropped, or kept as an exception).
        target: the file or current S3 version to rewrite (redact, s3_rewrite, delete_file).
        files: every file a session deletion removes.
        dirs: session directories removed after their files (only when nothing else lives there).
        version_ids: S3 versions to delete.
        ground: exception ground (`legal_claims`, `legal_obligation`, ..., `object_lock`, `residual_store`).
        hold_id: the legal hold, for hold exceptions.
        note: the configured reason text of an Art. 17(3) exception or hold (no personal data by config rule).
        session_ids: for a redaction of a per-org file, deleted sessions whose references on the named lines
            become `null` (docs/histories.md).
        drop_lines: for a redaction of the prompt history, lines (prompts of deleted sessions) removed
            after the redaction; `lines` never includes them.
        records: for a redaction inside a database, the rows (`<table>:<key>`) whose cells are redacted.
        app: the agent whose store the action changes (`codex`, `cowork`, ...), where known.
    """

    action_id: str
    kind: ActionKind
    location: str
    location_type: str
    reason: str
    path: str | None = None
    session_id: str | None = None
    lines: tuple[int, ...] = ()
    target: Item | None = None
    files: tuple[Item, ...] = ()
    dirs: tuple[str, ...] = ()
    version_ids: tuple[str, ...] = ()
    ground: str | None = None
    hold_id: str | None = None
    note: str | None = None
    session_ids: tuple[str, ...] = ()
    drop_lines: tuple[int, ...] = ()
    records: tuple[str, ...] = ()
    app: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        document = {f.name: getattr(self, f.name) for f in fields(self)}
        document["kind"] = self.kind.value
        document["lines"] = list(self.lines)
        document["target"] = self.target.baseline() if self.target else None
        document["files"] = [f.baseline() for f in self.files]
        document["dirs"] = list(self.dirs)
        document["version_ids"] = list(self.version_ids)
        document["session_ids"] = list(self.session_ids)
        document["drop_lines"] = list(self.drop_lines)
        # Written only when set, so the digest of a plan without database rows or agents is what it was.
        document["records"] = list(self.records)
        if not self.records:
            del document["records"]
        if self.app is None:
            del document["app"]
        return document

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> PlannedAction:
        """Inverse of `to_dict`."""
        target = document.get("target")
        location = document["location"]
        return cls(
            action_id=document["action_id"],
            kind=ActionKind(document["kind"]),
            location=location,
            location_type=document["location_type"],
            reason=document["reason"],
            path=document.get("path"),
            session_id=document.get("session_id"),
            lines=tuple(document.get("lines", ())),
            target=Item.from_baseline(location, target) if target else None,
            files=tuple(Item.from_baseline(location, f) for f in document.get("files", ())),
            dirs=tuple(document.get("dirs", ())),
            version_ids=tuple(document.get("version_ids", ())),
            ground=document.get("ground"),
            hold_id=document.get("hold_id"),
            note=document.get("note"),
            session_ids=tuple(document.get("session_ids", ())),
            drop_lines=tuple(document.get("drop_lines", ())),
            records=tuple(document.get("records", ())),
            app=document.get("app"),
        )


def _canonical(document: object) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def _action(kind: ActionKind, location: str, location_type: str, reason: str, **fields: Any) -> PlannedAction:
    probe = PlannedAction("", kind, location, location_type, reason, **fields)
    body = probe.to_dict()
    body.pop("action_id")
    action_id = hashlib.sha256(_canonical(body)).hexdigest()[:24]
    return PlannedAction(action_id, kind, location, location_type, reason, **fields)


@dataclass(frozen=True)
class ErasurePlan:
    """Everything erasure will do for one request, and what it keeps and why.

    Attributes:
        request_id: the request.
        created_at: when the plan was made (aware UTC).
        mainly_about_share: the configured threshold that decided whole-session deletions.
        actions: every planned action, exceptions included, in a stable order.
    """

    request_id: str
    created_at: datetime
    mainly_about_share: float
    actions: tuple[PlannedAction, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (no personal data)."""
        return {
            "format": PLAN_FORMAT,
            "request_id": self.request_id,
            "created_at": self.created_at.isoformat(),
            "mainly_about_share": self.mainly_about_share,
            "actions": [a.to_dict() for a in self.actions],
        }

    def to_json(self) -> str:
        """Canonical JSON text (sorted keys, compact): what `digest` hashes and what an approval names."""
        return _canonical(self.to_dict()).decode("ascii")

    @classmethod
    def from_json(cls, text: str | bytes) -> ErasurePlan:
        """Parse `to_json` output.

        Raises:
            InputError: not an erasure plan of this format.
        """
        try:
            document = json.loads(text)
        except ValueError:
            raise InputError("erasure plan is not valid JSON", field="plan") from None
        if not isinstance(document, dict) or document.get("format") != PLAN_FORMAT:
            raise InputError(f"erasure plan format must be {PLAN_FORMAT}", field="plan")
        try:
            return cls(
                request_id=document["request_id"],
                created_at=datetime.fromisoformat(document["created_at"]),
                mainly_about_share=float(document["mainly_about_share"]),
                actions=tuple(PlannedAction.from_dict(a) for a in document["actions"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"erasure plan is incomplete or malformed ({type(exc).__name__})", field="plan") from None

    @property
    def digest(self) -> str:
        """sha256 hex of the canonical JSON: an approval names exactly this plan."""
        return hashlib.sha256(self.to_json().encode("ascii")).hexdigest()

    @property
    def exceptions(self) -> tuple[PlannedAction, ...]:
        """The exception actions (what is kept and why, each under a ground)."""
        return tuple(a for a in self.actions if a.kind is ActionKind.EXCEPTION)

    @property
    def not_reached(self) -> tuple[PlannedAction, ...]:
        """Items the product could not read or change, each with its reason: gaps, never exceptions."""
        return tuple(a for a in self.actions if a.kind is ActionKind.NOT_REACHED)

    def summary(self) -> list[dict[str, Any]]:
        """Counts per location and action kind (rows for the plan table): location, action, count, files, lines."""
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for action in self.actions:
            row = rows.setdefault(
                (action.location, action.kind.value),
                {"location": action.location, "action": action.kind.value, "count": 0, "files": 0, "lines": 0},
            )
            row["count"] += 1
            row["files"] += len(action.files) if action.files else (1 if action.path else 0)
            row["lines"] += len(action.lines) + len(action.drop_lines)
        return [rows[key] for key in sorted(rows)]

    def detail(self) -> list[dict[str, Any]]:
        """Every session, file, directory, S3 version, line set and database row set the plan touches or keeps,
        one row each: location, action, item, path, version_id, count, reason (paths and counts, never content).
        """
        rows: list[dict[str, Any]] = []
        for action in self.actions:
            reason = (
                f"{action.ground}: {action.reason}"
                if action.ground and action.ground != action.reason
                else action.reason
            )
            for item, path, version_id, count in _detail_items(action):
                rows.append(
                    {
                        "location": action.location,
                        "action": action.kind.value,
                        "item": item,
                        "path": path or "",
                        "version_id": version_id or "",
                        "count": count,
                        "reason": reason,
                    }
                )
        return rows


#: One row of `ErasurePlan.detail`: item kind, path, version id, count.
_DetailItem = tuple[str, str | None, str | None, int]
_S3_KINDS = (ActionKind.S3_ERASE_OBJECT, ActionKind.S3_REWRITE, ActionKind.S3_DELETE_VERSIONS)


def _detail_items(action: PlannedAction) -> list[_DetailItem]:
    """What one action touches or keeps, item by item."""
    kind = action.kind
    if kind is ActionKind.DELETE_SESSION:
        return [
            ("session", action.session_id or action.path, None, len(action.files)),
            *(("file", ref.path, None, 1) for ref in action.files),
            *(("directory", directory, None, 1) for directory in action.dirs),
        ]
    if kind is ActionKind.DELETE_FILE:
        return [("file", action.path or (action.target.path if action.target else None), None, 1)]
    if kind is ActionKind.REDACT:
        return _redact_detail(action)
    if kind in _S3_KINDS or action.version_ids:
        return _s3_detail(action)
    item = "lines" if action.lines else ("records" if action.records else "location" if not action.path else "file")
    return [(item, action.path, None, len(action.lines) or len(action.records) or 1)]


def _redact_detail(action: PlannedAction) -> list[_DetailItem]:
    items: list[_DetailItem] = []
    if action.records:
        items.append(("records", action.path, None, len(action.records)))
    if action.lines or action.drop_lines or not action.records:
        items.append(("lines", action.path, None, len(action.lines) + len(action.drop_lines)))
    return items


def _s3_detail(action: PlannedAction) -> list[_DetailItem]:
    items: list[_DetailItem] = []
    if action.kind in _S3_KINDS and (action.kind is ActionKind.S3_REWRITE or not action.version_ids):
        current = action.target.version_id if action.target else None
        items.append(("s3_object", action.path, current, len(action.lines) or 1))
    items.extend(("s3_version", action.path, vid, 1) for vid in action.version_ids)
    return items


# -- scope rules -------------------------------------------------------------------------------------------


def _matches_globs(path: str, globs: Sequence[str]) -> bool:
    return not globs or any(fnmatch.fnmatchcase(path, g) for g in globs)


def _item_date(item: Finding) -> date | None:
    stamp = item.timestamp
    if stamp is None:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).date()
    except ValueError:
        return None


def _days(when: date | None) -> tuple[date, date] | None:
    return (when, when) if when is not None else None


def exception_covers(exception: Art17Exception, location: str, path: str, kind: str) -> bool:
    """Whether a configured Art. 17(3) exception covers one item (endpoints, path globs, kinds; empty = all)."""
    if exception.endpoints and location not in exception.endpoints:
        return False
    if exception.kinds and kind not in exception.kinds:
        return False
    return _matches_globs(path, exception.paths)


@dataclass(frozen=True)
class _Keep:
    reason: Reason
    ground: str
    hold_id: str | None
    note: str | None


_WITH_REPOSITORY = "kept with its shadow git repository, which holds a file this keeps"
_NOT_IN_PLACE = _Keep(
    Reason.WHOLE_ONLY_SHARED,
    "not_erasable_in_place",
    None,
    "its agent allows deleting this file only whole and it is not the person's own conversation: delete it "
    "by hand, with the app closed, where the erasure requires it, or ask the vendor",
)


class _Scope:
    def __init__(self, settings: ErasureSettings, holds: Sequence[HoldSettings], subject_keys: set[str]) -> None:
        self.settings = settings
        self.holds = [hold_from_settings(h) for h in holds]
        self.subject_keys = subject_keys

    def keep(self, location: str, path: str, kind: str, dates: tuple[date, date] | None) -> _Keep | None:
        """Why an item is kept, if it is: a covering hold (the one scope rule of `models.holds`) or exception.

        `dates` are the first and last day of the item's (or its session's) activity; None when unknown."""
        for hold in self.holds:
            if hold_covers(hold, endpoint=location, path=path, session_dates=dates, subject_hashes=self.subject_keys):
                # Held items are retained under Art. 17(3)(e) until release (docs/legal-rules.md).
                return _Keep(Reason.LEGAL_HOLD, "legal_claims", hold.id, hold.case_reference)
        for exception in self.settings.exceptions:
            if exception_covers(exception, location, path, kind):
                return _Keep(Reason.ART17_3, exception.ground, None, exception.reason)
        return None


# -- endpoints ---------------------------------------------------------------------------------------------


_LINE_RECORD_FORMATS = frozenset({"jsonl"})
"""Formats with one record per line: only there is the share of records naming the subject meaningful (a
one-line JSON document, as Cline writes, would always be "mainly about" anyone it names once)."""


def _plan_endpoint(discovery: LocationDiscovery, scope: _Scope, share: float) -> list[PlannedAction]:
    infos = {info.file.path: info for info in discovery.artifacts}
    delete = _sessions_to_delete(discovery, infos, share)
    state = _sort_items(discovery, scope, infos)
    by_session = _session_files(discovery, delete)
    actions = _session_deletions(discovery, scope, delete, by_session, state)
    actions.extend(_shadow_git_deletions(discovery, scope, state))
    _session_references(discovery, delete, by_session, state)
    actions.extend(_file_actions(discovery.name, infos, state))
    actions.extend(_kept_actions(discovery.name, infos, state))
    for path in sorted(state.unidentified):
        actions.append(_action(ActionKind.NOT_REACHED, discovery.name, "endpoint", Reason.NOT_READ.value, path=path))
    actions.extend(_not_reached(discovery, "endpoint"))
    actions.extend(_store_exceptions(discovery))
    return actions


@dataclass
class _EndpointState:
    """What the endpoint planner has decided so far, file by file."""

    kept: defaultdict[tuple[str, _Keep], set[int]] = field(default_factory=lambda: defaultdict(set))
    kept_whole: dict[tuple[str, _Keep], bool] = field(default_factory=dict)
    erase: defaultdict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    db_records: defaultdict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    whole: set[str] = field(default_factory=set)
    unidentified: set[str] = field(default_factory=set)
    session_dates: dict[str, tuple[date, date]] = field(default_factory=dict)
    refs: defaultdict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    drops: defaultdict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    deleted_paths: set[str] = field(default_factory=set)

    def keep_item(self, path: str, line: int | None, keep: _Keep) -> None:
        held = self.kept[(path, keep)]  # a whole-file item (no line) is kept too: its exception lists no lines
        if line is not None:
            held.add(line)
        self.kept_whole[(path, keep)] = self.kept_whole.get((path, keep), False) or line is None

    def note_date(self, session_id: object, when: date | None) -> None:
        if isinstance(session_id, str) and when is not None:
            first, last = self.session_dates.get(session_id, (when, when))
            self.session_dates[session_id] = (min(first, when), max(last, when))


def _sessions_to_delete(
    discovery: LocationDiscovery, infos: Mapping[str, ArtifactInfo], share: float
) -> dict[str, str]:
    """Sessions that go whole: owned, or mainly about the subject (share of conversation records naming them)."""
    delete: dict[str, str] = {sid: Reason.OWNED_SESSION.value for sid, _ in discovery.owned_sessions}
    for item in discovery.items:
        owner_info = infos.get(item.path)
        if item.reason == "owned_session" and owner_info is not None and owner_info.session_id:
            # Owned through the endpoint's configured owner (no session record names them).
            delete.setdefault(owner_info.session_id, Reason.OWNED_SESSION.value)
    named: Counter[str] = Counter()
    for item in discovery.items:
        info = infos.get(item.path)
        if (
            info is not None
            and info.file.kind in _RECORD_KINDS
            and info.file.fmt in _LINE_RECORD_FORMATS
            and info.session_id
            and item.pointers
        ):
            named[info.session_id] += 1
    totals: Counter[str] = Counter()
    for info in discovery.artifacts:
        if (
            info.file.kind in _RECORD_KINDS
            and info.file.fmt in _LINE_RECORD_FORMATS
            and info.session_id
            and info.file.lines
        ):
            # A trailing newline gives one empty last "line" that is no record.
            totals[info.session_id] += max(info.file.lines - 1, 1)
    for sid, count in named.items():
        if sid not in delete and totals[sid] and share > 0 and count / totals[sid] >= share:
            delete[sid] = Reason.MAINLY_ABOUT.value
    return delete


def _sort_items(discovery: LocationDiscovery, scope: _Scope, infos: Mapping[str, ArtifactInfo]) -> _EndpointState:
    """Items per file, split into kept (exception) and erased."""
    state = _EndpointState()
    for item in discovery.items:
        path, line = item.path, item.line
        when = _item_date(item)
        state.note_date(item.session_id, when)
        keep = scope.keep(discovery.name, path, item.kind, _days(when))
        if keep is not None:
            state.keep_item(path, line, keep)
            continue
        record = item.location.record
        if path in infos and _content_addressed(infos[path]):
            state.whole.add(path)  # its blobs are keyed by their content: the conversation's store goes whole
            continue
        if record is not None and path in infos:
            state.db_records[path].add(record)  # a row of a database: its cells are redacted (method C)
            continue
        if item.reason == "owned_session":
            continue  # the whole session goes (below), unless part of it is kept
        if path not in infos:
            state.unidentified.add(path)
        elif line is None:
            state.whole.add(path)
        else:
            state.erase[path].add(line)
    for path in discovery.vacuum:
        if path in infos:
            state.db_records.setdefault(path, set())  # no row to change: the action only VACUUMs
    return state


def _whole_only(info: ArtifactInfo) -> bool:
    """The file can only be deleted whole: binary or never opened, or its agent's layout declares it whole-only
    (Claude's audit keys and residual app stores, ChatGPT's conversation files, ...): the erase method its
    classification at discovery found (`ArtifactInfo.erase`), never looked up again by path."""
    return info.file.fmt in ("binary", "none") or info.erase is Erase.WHOLE_ONLY


def _content_addressed(info: ArtifactInfo) -> bool:
    """Whether the agent's layout keys this file's content by its hash (method E: deleted, never edited), as
    its classification at discovery found."""
    return info.erase is Erase.CONTENT_ADDRESSED


def _session_files(discovery: LocationDiscovery, delete: dict[str, str]) -> dict[str, list[ArtifactInfo]]:
    """The files of each session that goes whole, with the copies of its outputs in the user's folder."""
    by_session: dict[str, list[ArtifactInfo]] = defaultdict(list)
    for info in discovery.artifacts:
        if info.session_id in delete and info.file.kind not in ("residual", "encrypted_store"):
            by_session[info.session_id].append(info)
    # Copies of a deleted session's outputs in the user's `~/Claude/` folder (same content) go with it.
    user_outputs: dict[str, list[ArtifactInfo]] = defaultdict(list)
    for info in discovery.artifacts:
        if info.file.kind == "user_output" and info.file.sha256 is not None:
            user_outputs[info.file.sha256].append(info)
    for session_files in by_session.values():
        digests = {f.file.sha256 for f in session_files if f.file.kind == "output" and f.file.sha256}
        copies = [u for digest in sorted(digests) for u in user_outputs.get(digest, ())]
        session_files.extend(c for c in copies if c not in session_files)
    return by_session


def _session_deletions(
    discovery: LocationDiscovery,
    scope: _Scope,
    delete: Mapping[str, str],
    by_session: Mapping[str, list[ArtifactInfo]],
    state: _EndpointState,
) -> list[PlannedAction]:
    """One DELETE_SESSION per session that goes whole, without the files an exception keeps."""
    name = discovery.name
    kept_paths = {path for path, _ in state.kept}
    actions: list[PlannedAction] = []
    for sid in sorted(by_session):
        files = []
        for info in sorted(by_session[sid], key=lambda i: i.file.path):
            if info.file.path in kept_paths:
                continue  # items of this file are kept (exception below)
            keep = scope.keep(name, info.file.path, info.file.kind, state.session_dates.get(sid))
            if keep is not None:
                state.kept_whole[(info.file.path, keep)] = True
                state.kept[(info.file.path, keep)] = set()
                continue
            files.append(info)
        if not files:
            continue
        others = [o for o in discovery.artifacts if o.session_id != sid or o.file.path in kept_paths]
        record = next((f.file.path for f in files if f.file.kind in _SESSION_RECORD_KINDS), files[0].file.path)
        actions.append(
            _action(
                ActionKind.DELETE_SESSION,
                name,
                "endpoint",
                delete[sid],
                path=record,
                session_id=sid,
                files=tuple(f.file for f in files),
                dirs=tuple(session_dirs(sid, (f.file.path for f in files), (o.file.path for o in others))),
                app=next((f.app for f in files if f.app), None),
            )
        )
        state.deleted_paths |= {f.file.path for f in files}
    return actions


def _shadow_git_deletions(discovery: LocationDiscovery, scope: _Scope, state: _EndpointState) -> list[PlannedAction]:
    """A shadow git repository (project-file snapshots of an agent) with the subject in any file goes whole:
    every file of it, then its folder. Editing objects would break the repository and rewriting its history
    would break the agent's restore points; the snapshots of that workspace go with it. A repository one of
    whose files an exception or a hold keeps (with findings or not) is kept whole instead."""
    repos: dict[str, str | None] = {}
    found: defaultdict[str, list[str]] = defaultdict(list)
    for path in sorted(state.whole):
        info = next((i for i in discovery.artifacts if i.file.path == path), None)
        repo = repository_of(path) if info is not None and info.file.kind == "shadow_git" else None
        if repo is not None and info is not None:
            repos.setdefault(repo, info.app)
            found[repo].append(path)
            state.whole.discard(path)
    actions: list[PlannedAction] = []
    for repo, app in sorted(repos.items()):
        files = [
            i
            for i in discovery.artifacts
            if i.file.path.startswith(repo + "/") and i.file.path not in state.deleted_paths
        ]
        if _keep_repository(discovery.name, repo, files, found[repo], scope, state):
            continue
        actions.append(
            _action(
                ActionKind.DELETE_SESSION,
                discovery.name,
                "endpoint",
                Reason.SHADOW_GIT.value,
                path=repo,
                files=tuple(f.file for f in sorted(files, key=lambda i: i.file.path)),
                dirs=(repo,),
                app=app,
            )
        )
        state.deleted_paths |= {f.file.path for f in files}
    return actions


def _keep_repository(
    name: str, repo: str, files: Sequence[ArtifactInfo], found: Sequence[str], scope: _Scope, state: _EndpointState
) -> bool:
    """Whether a shadow git repository is kept because an exception or a hold keeps one of its files (deleting
    it would destroy that file). Then each held file is listed under what keeps it, and each file with findings
    under the same ground, noted as kept with its repository."""
    held = {path: keep for path, keep in state.kept if path.startswith(repo + "/")}
    for info in files:
        keep = scope.keep(name, info.file.path, info.file.kind, None)
        if keep is not None:
            held.setdefault(info.file.path, keep)
    if not held:
        return False
    for path, keep in held.items():
        state.keep_item(path, None, keep)
    for path in found:
        if path not in held:
            for keep in dict.fromkeys(held.values()):
                state.keep_item(path, None, replace(keep, note=_WITH_REPOSITORY))
    return True


def _session_references(
    discovery: LocationDiscovery,
    delete: Mapping[str, str],
    by_session: Mapping[str, list[ArtifactInfo]],
    state: _EndpointState,
) -> None:
    """References to deleted sessions in per-org files (policy 1): the session id becomes null on its line.
    Prompt-history lines of a deleted session are that session's prompts: they are removed."""
    for info in discovery.artifacts:
        for sid, line in info.session_refs:
            if sid not in delete or not any(f.session_id == sid for f in by_session.get(sid, ())):
                continue
            if info.file.kind == "prompt_history":
                state.drops[info.file.path].add(line)
            else:
                state.erase[info.file.path].add(line)
                state.refs[info.file.path].add(sid)
    for path, dropped in state.drops.items():
        state.erase[path] -= dropped


def _file_actions(name: str, infos: Mapping[str, ArtifactInfo], state: _EndpointState) -> list[PlannedAction]:
    """Files outside deleted sessions; a file kept whole is never touched, one with kept lines is redacted
    on its other lines only."""
    kept_whole_paths = {path for (path, _), is_whole in state.kept_whole.items() if is_whole}
    kept_lines: dict[str, set[int]] = defaultdict(set)
    for (path, _), held in state.kept.items():
        kept_lines[path] |= held
    erase, whole, drops, db_records = state.erase, state.whole, state.drops, state.db_records
    touched = set(erase) | whole | set(drops) | set(db_records)
    actions: list[PlannedAction] = []
    for path in sorted(touched - state.deleted_paths - kept_whole_paths):
        info = infos[path]
        unredactable = path in whole and (_whole_only(info) or info.file.sha256 is None)
        if path in whole and (unredactable or not erase.get(path)):
            if kept_lines.get(path):
                _keep_whole(state, path)  # deleting it would destroy the lines an exception or a hold keeps
                continue
            if info.file.sha256 is None and info.file.fmt != "none":
                state.unidentified.add(path)
                continue
            actions.append(
                _action(
                    ActionKind.DELETE_FILE,
                    name,
                    "endpoint",
                    (Reason.CONTENT_ADDRESSED if _content_addressed(info) else Reason.UNREDACTABLE).value,
                    path=path,
                    session_id=info.session_id,
                    target=info.file,
                    app=info.app,
                )
            )
            continue
        if info.file.sha256 is None:
            state.unidentified.add(path)
            continue
        if info.erase is Erase.WHOLE_ONLY:  # never rewritten, and not the person's own to delete: reported
            for line in erase[path] - kept_lines.get(path, set()):
                state.keep_item(path, line, _NOT_IN_PLACE)
            continue
        reason = Reason.THIRD_PARTY_SESSION if info.session_id else Reason.NO_SESSION
        if path in db_records and not db_records[path] and not erase.get(path):
            reason = Reason.FREE_PAGES
        actions.append(
            _action(
                ActionKind.REDACT,
                name,
                "endpoint",
                reason.value,
                path=path,
                session_id=info.session_id,
                lines=tuple(sorted(erase[path])),
                target=info.file,
                session_ids=tuple(sorted(state.refs.get(path, ()))),
                drop_lines=tuple(sorted(drops.get(path, set()) - kept_lines.get(path, set()))),
                records=tuple(sorted(db_records.get(path, ()))),
                app=info.app,
            )
        )
    return actions


def _keep_whole(state: _EndpointState, path: str) -> None:
    """A file that could only be deleted whole while some of its lines are kept: every exception on it keeps
    the whole file (stated as such in the plan), and nothing in it is erased."""
    for path_keep in [pk for pk in state.kept if pk[0] == path]:
        state.kept_whole[path_keep] = True


def _kept_actions(name: str, infos: Mapping[str, ArtifactInfo], state: _EndpointState) -> list[PlannedAction]:
    """Kept items: one exception per file and ground; erased lines of the same file are redacted only when
    the file itself is not kept."""
    actions: list[PlannedAction] = []
    for (path, keep), lines in sorted(state.kept.items(), key=lambda kv: (kv[0][0], kv[0][1].ground)):
        info = infos.get(path)
        actions.append(
            _action(
                ActionKind.EXCEPTION,
                name,
                "endpoint",
                keep.reason.value,
                path=path,
                session_id=info.session_id if info else None,
                lines=() if state.kept_whole.get((path, keep)) else tuple(sorted(lines)),
                ground=keep.ground,
                hold_id=keep.hold_id,
                note=keep.note,
            )
        )
    return actions


def _store_exceptions(discovery: LocationDiscovery) -> list[PlannedAction]:
    """Residual and encrypted stores on an endpoint: reported as exceptions, never edited."""
    name = discovery.name
    actions: list[PlannedAction] = []
    # Residual stores: reported, never edited (one entry per store directory).
    residual_roots = sorted(
        {_residual_root(info.file.path) for info in discovery.artifacts if info.file.kind == "residual"}
    )
    for root in residual_roots:
        actions.append(
            _action(
                ActionKind.EXCEPTION, name, "endpoint", Reason.RESIDUAL_STORE.value, path=root, ground="residual_store"
            )
        )
    # Encrypted conversation stores (Windsurf, ChatGPT desktop): never opened, so never known to be about the
    # subject; kept as reported exceptions (one per store folder; the vendor request covers the server copy).
    # On the subject's own laptop its conversations are hers: each conversation file is deleted whole (app
    # closed), and what is not a conversation (Windsurf memories, settings) stays a reported exception.
    encrypted = [info for info in discovery.artifacts if info.file.kind == "encrypted_store"]
    gone = {info.file.path for info in encrypted if discovery.owner_is_subject and _encrypted_conversation(info)}
    for info in sorted((i for i in encrypted if i.file.path in gone), key=lambda i: i.file.path):
        actions.append(
            _action(
                ActionKind.DELETE_FILE,
                name,
                "endpoint",
                Reason.OWNER_ENCRYPTED.value,
                path=info.file.path,
                session_id=info.session_id,
                target=info.file,
                app=info.app,
            )
        )
    for root in sorted({info.file.path.rsplit("/", 1)[0] for info in encrypted if info.file.path not in gone}):
        app = next((i.app for i in encrypted if i.file.path.startswith(root + "/")), None)
        actions.append(
            _action(
                ActionKind.EXCEPTION,
                name,
                "endpoint",
                Reason.ENCRYPTED_STORE.value,
                path=root,
                ground="encrypted_store",
                app=app,
            )
        )
    return actions


def _encrypted_conversation(info: ArtifactInfo) -> bool:
    """An encrypted file that is one conversation (Windsurf `cascade/<id>.pb`, `implicit/<id>.pb`) or the
    ChatGPT desktop app's conversation cache; other encrypted files (memories, settings) are not."""
    return info.session_id is not None or info.app == "chatgpt-desktop"


def _residual_root(path: str) -> str:
    """The residual store directory a file belongs to (the app-root subdirectory), for one entry per store."""
    parts = path.split("/")
    for index, part in enumerate(parts):
        if part in RESIDUAL_DIRS:
            return "/".join(parts[: index + 1])
    return "/".join(parts[:-1]) or path


def _not_reached(discovery: LocationDiscovery, location_type: str) -> list[PlannedAction]:
    """Entries the scan could not read (permission denied, symlink out of scope, special file, ...): listed as
    not reached with that reason, never touched, never an exception."""
    reasons: dict[str, str] = {}
    for skipped in discovery.skipped:
        if skipped.reason != "delete_marker":
            reasons.setdefault(skipped.path, skipped.reason)
    return [
        _action(ActionKind.NOT_REACHED, discovery.name, location_type, reason, path=path)
        for path, reason in sorted(reasons.items())
    ]


# -- stores ------------------------------------------------------------------------------------------------


_VersionKey = tuple[str, str | None]


def _plan_store(discovery: LocationDiscovery, scope: _Scope, share: float) -> list[PlannedAction]:
    name = discovery.name
    actions: list[PlannedAction] = []
    versions: dict[_VersionKey, ArtifactInfo] = {(i.file.path, i.file.version_id): i for i in discovery.artifacts}
    lines: dict[_VersionKey, set[int]] = defaultdict(set)
    kept: dict[_VersionKey, _Keep] = {}
    for item in discovery.items:
        key = (item.path, item.location.version_id)
        keep = scope.keep(name, item.path, "s3_object", _days(_item_date(item)))
        if keep is not None:
            kept.setdefault(key, keep)
        found_lines = lines.setdefault(key, set())
        if item.line is not None:
            found_lines.add(item.line)
    for path in sorted({p for p, _ in lines}):
        found = {vid: lines[(p, vid)] for p, vid in lines if p == path}
        to_delete = _plan_versions(name, path, found, versions, kept, actions)
        actions.extend(_plan_current(name, path, found, versions, kept, to_delete, share))
    actions.extend(_not_reached(discovery, "store"))
    return actions


def _plan_versions(
    name: str,
    path: str,
    found: Mapping[str | None, set[int]],
    versions: Mapping[_VersionKey, ArtifactInfo],
    kept: Mapping[_VersionKey, _Keep],
    actions: list[PlannedAction],
) -> list[str]:
    """Actions for the versions of one object that name the subject and cannot be changed (not read, held,
    locked); returns the old versions to delete."""
    to_delete: list[str] = []
    for vid in sorted(found, key=lambda v: v or ""):
        info = versions.get((path, vid))
        keep = kept.get((path, vid))
        if (info is None or info.file.sha256 is None) and keep is None:
            actions.append(
                _action(
                    ActionKind.NOT_REACHED,
                    name,
                    "store",
                    Reason.NOT_READ.value,
                    path=path,
                    version_ids=(vid,) if vid else (),
                    lines=tuple(sorted(found[vid])),
                )
            )
            continue
        if info is not None and info.locked and keep is None:
            keep = _Keep(Reason.OBJECT_LOCK, "object_lock", None, info.lock_mode)
        if keep is not None:
            actions.append(
                _action(
                    ActionKind.EXCEPTION,
                    name,
                    "store",
                    keep.reason.value,
                    path=path,
                    version_ids=(vid,) if vid else (),
                    lines=tuple(sorted(found[vid])),
                    ground=keep.ground,
                    hold_id=keep.hold_id,
                    note=keep.note,
                )
            )
            continue
        if info is not None and info.is_latest:
            continue
        if vid is not None:
            to_delete.append(vid)
    return to_delete


def _plan_current(
    name: str,
    path: str,
    found: Mapping[str | None, set[int]],
    versions: Mapping[_VersionKey, ArtifactInfo],
    kept: Mapping[_VersionKey, _Keep],
    to_delete: list[str],
    share: float,
) -> list[PlannedAction]:
    """The action on one object as a whole: erased when mainly about the subject, rewritten when partly, or
    only its old versions deleted."""
    current = next((v for (p, vid), v in versions.items() if p == path and v.is_latest), None)
    current_pending = (
        current is not None
        and current.file.version_id in found
        and (path, current.file.version_id) not in kept
        and not current.locked
    )
    if current_pending and current is not None and current.file.sha256 is not None:
        named = len(found[current.file.version_id])
        records = max((current.file.lines or 1) - 1, 1)
        if share > 0 and named / records >= share:
            all_vids = tuple(
                sorted(
                    v.file.version_id or "null"
                    for (p, _), v in versions.items()
                    if p == path and not v.locked and (p, v.file.version_id) not in kept
                )
            )
            return [
                _action(
                    ActionKind.S3_ERASE_OBJECT,
                    name,
                    "store",
                    Reason.OBJECT_MAINLY_ABOUT.value,
                    path=path,
                    target=current.file,
                    version_ids=all_vids,
                )
            ]
        old = tuple(sorted(set(to_delete) | ({current.file.version_id} if current.file.version_id else set())))
        return [
            _action(
                ActionKind.S3_REWRITE,
                name,
                "store",
                Reason.OBJECT_PARTLY_ABOUT.value,
                path=path,
                target=current.file,
                lines=tuple(sorted(found[current.file.version_id])),
                version_ids=old,
            )
        ]
    if to_delete:
        return [
            _action(
                ActionKind.S3_DELETE_VERSIONS,
                name,
                "store",
                Reason.OLD_VERSIONS.value,
                path=path,
                version_ids=tuple(sorted(to_delete)),
            )
        ]
    return []


# -- entry point -------------------------------------------------------------------------------------------


def plan_erasure(
    request_id: str,
    discoveries: Sequence[LocationDiscovery],
    *,
    settings: ErasureSettings,
    holds: Sequence[HoldSettings],
    subject_hashes: set[str],
    now: datetime,
) -> ErasurePlan:
    """Decide per item what erasure does, and what it keeps and why.

    Rules: a session the subject owns (scan reason `owned_session`) or that is mainly about them (share of
    its transcript records naming them >= `settings.mainly_about_share`) is deleted whole (record, files,
    session directories, dispatch generations); elsewhere the lines naming them are redacted in place
    (audit lines included, never re-signed); binary files naming them are deleted; S3 objects mainly about
    them are erased with every version, others rewritten without their records and the old versions
    holding them deleted. Kept as exceptions: items in a legal hold's scope (Art. 17(3)(e)), items an
    Art. 17(3) exception from the settings covers, Object-Locked versions, residual stores (reported, never
    edited), and vendor-side copies (always listed). Items that could not be read or changed (a scan's
    skipped entries, files whose content was not read) are `not_reached` actions with their reason: gaps
    the request reports, never exceptions.

    Args:
        request_id: the request.
        discoveries: one per location (endpoints and stores).
        settings: the erasure settings (threshold, Art. 17(3) exceptions).
        holds: the configured legal holds.
        subject_hashes: keys that identify the subject in holds' `subjects` lists: the keyed hashes of the
            subject's identifiers, plus any plain identifiers (lower case) if holds list plain ids.
        now: aware UTC time of planning.

    Returns:
        The plan; exceptions included, no personal data.
    """
    if now.tzinfo is None:
        raise InputError("plan time must be an aware datetime", field="now")
    scope = _Scope(settings, holds, subject_hashes)
    share = settings.mainly_about_share
    actions: list[PlannedAction] = []
    for discovery in sorted(discoveries, key=lambda d: d.name):
        if discovery.type == "store":
            actions.extend(_plan_store(discovery, scope, share))
        else:
            actions.extend(_plan_endpoint(discovery, scope, share))
    # Copies at the vendor (enterprise compliance captures, cloud sessions) are beyond local erasure.
    actions.append(
        _action(
            ActionKind.EXCEPTION, VENDOR_LOCATION, "vendor", Reason.VENDOR_SIDE_COPY.value, ground="vendor_side_copy"
        )
    )
    return ErasurePlan(request_id, now, share, tuple(actions))
