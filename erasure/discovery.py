"""What erasure planning needs to know about one location: scan findings plus the artifacts' identities.

Owns `LocationDiscovery` and `ArtifactInfo` and the helpers that build them from `detection.scan` and
`detection.scan_store`. Finding items carry content in memory only; nothing here logs or persists it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

from connectors.agents.base import Erase
from connectors.base import CHUNK_SIZE, Connector, Item, Skipped, VersionedStore, scannable_format
from connectors.layouts import Artifact, ArtifactKind, iter_artifacts
from connectors.records import RecordFormat
from connectors.shadow_git import repository_of
from detection.findings import Finding
from detection.matcher import Matcher
from detection.scan import scan_endpoint
from detection.scan_store import scan_store
from models.errors import ConnectorError, InputError

LocationType = Literal["endpoint", "store"]
_MAX_ORG_FILE = 64 << 20
# Files whose lines reference sessions by id: per-org files (artifacts.json, scheduled-tasks.json) and the
# prompt history (history.jsonl lines carry their sessionId).
_REFERRING_KINDS = frozenset({ArtifactKind.ORG_FILE, ArtifactKind.PROMPT_HISTORY})


@dataclass(frozen=True)
class ArtifactInfo:
    """What discovery learnt about one file or S3 object version: the file as read plus its context.

    Attributes:
        file: the file as read (`Item.read_as`: path, size, version token, sha256 and line count where read,
            kind, format, S3 version id and whether it is the current version): the compare-and-swap
            baseline plans name.
        session_id: the artifact's session (path-derived), if any.
        locked: S3 Object Lock (retention not expired, or legal hold) protects the version.
        lock_mode: `COMPLIANCE` / `GOVERNANCE` / None.
        legal_hold: S3 legal hold status.
        session_refs: (session id, line) of lines in per-org files (`artifacts.json`, `scheduled-tasks.json`)
            and the prompt history that reference a session with findings, so a whole-session deletion can
            remove the references (org files) or the prompt lines (history).
        app: the agent the file belongs to (`cowork`, `codex`, ...; None for stores).
        erase: how the file is erased, as its classification at discovery decided (`Artifact.erase`); None
            for S3 versions (and in discoveries staged before it was recorded).
    """

    file: Item
    session_id: str | None = None
    locked: bool = False
    lock_mode: str | None = None
    legal_hold: bool = False
    session_refs: tuple[tuple[str, int], ...] = ()
    app: str | None = None
    erase: Erase | None = None

    @property
    def is_latest(self) -> bool:
        """False for a non-current S3 version."""
        return self.file.is_latest

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, flat (the file's baseline and `is_latest` beside the context; tuples become lists)."""
        context = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "file"}
        context["session_refs"] = [list(ref) for ref in self.session_refs]
        return {**self.file.baseline(), "is_latest": self.file.is_latest, **context}

    @classmethod
    def from_dict(cls, location: str, data: dict[str, Any]) -> ArtifactInfo:
        """The artifact identity `to_dict` wrote, of a file at `location`."""
        file = Item.from_baseline(location, data, is_latest=bool(data.get("is_latest", True)))
        return cls(
            file,
            data.get("session_id"),
            locked=bool(data.get("locked", False)),
            lock_mode=data.get("lock_mode"),
            legal_hold=bool(data.get("legal_hold", False)),
            session_refs=tuple((str(sid), int(line)) for sid, line in data["session_refs"]),
            app=data.get("app"),
            erase=Erase(data["erase"]) if data.get("erase") else None,
        )


@dataclass(frozen=True)
class LocationDiscovery:
    """One location's scan for one subject, as the planner consumes it.

    Attributes:
        name: endpoint or store name.
        type: `endpoint` or `store`.
        items: the findings `detection.scan` produces (content in memory only: `without_content` drops it).
        owned_sessions: session ids the subject owns (with the ownership reason).
        artifacts: identities of every artifact the plan may touch (files with findings, every file of a
            session with findings, residual stores).
        skipped: entries the scan could not read, with reasons.
        vacuum: databases where the subject remains only in free pages or a stale WAL (to be `VACUUM`ed).
        owner_is_subject: the endpoint's configured owner is the subject (her own laptop): its encrypted
            conversations are hers, so they are in scope on that evidence.
    """

    name: str
    type: LocationType
    items: tuple[Finding, ...]
    owned_sessions: tuple[tuple[str, str], ...] = ()
    artifacts: tuple[ArtifactInfo, ...] = ()
    skipped: tuple[Skipped, ...] = field(default_factory=tuple)
    vacuum: tuple[str, ...] = ()
    owner_is_subject: bool = False

    def without_content(self) -> LocationDiscovery:
        """A copy whose items carry no `content` (planning and verification never read it).

        Use it before a discovery crosses a task boundary or is persisted (Prefect results).
        """
        return replace(self, items=tuple(replace(item, content=None) for item in self.items))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (findings in their dict form, `Finding.to_dict`; tuples become lists)."""
        return {
            "name": self.name,
            "type": self.type,
            "items": [item.to_dict() for item in self.items],
            "owned_sessions": [list(pair) for pair in self.owned_sessions],
            "artifacts": [a.to_dict() for a in self.artifacts],
            "skipped": [asdict(s) for s in self.skipped],
            "vacuum": list(self.vacuum),
            "owner_is_subject": self.owner_is_subject,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LocationDiscovery:
        """The discovery `to_dict` wrote (equal to the original)."""
        if data["type"] == "endpoint" and any("erase" not in a for a in data["artifacts"]):
            raise InputError(
                f"the staged discovery of {data['name']!r} was made by an earlier version and does not record how "
                "each file is erased; discover again (`dsr request run ID`) before planning"
            )
        return cls(
            name=data["name"],
            type=data["type"],
            items=tuple(Finding.from_dict(item) for item in data["items"]),
            owned_sessions=tuple((str(sid), str(reason)) for sid, reason in data["owned_sessions"]),
            artifacts=tuple(ArtifactInfo.from_dict(data["name"], a) for a in data["artifacts"]),
            skipped=tuple(Skipped(**s) for s in data["skipped"]),
            vacuum=tuple(data.get("vacuum", ())),
            owner_is_subject=bool(data.get("owner_is_subject", False)),
        )


def _hash_and_lines(stream_chunks: Iterable[bytes]) -> tuple[str, int]:
    digest = hashlib.sha256()
    newlines = 0
    for chunk in stream_chunks:
        digest.update(chunk)
        newlines += chunk.count(b"\n")
    return digest.hexdigest(), newlines + 1


def _read_identity(connector: Connector, item: Item) -> tuple[str, int] | None:
    try:
        with connector.open(item) as stream:
            return _hash_and_lines(iter(lambda: stream.read(CHUNK_SIZE), b""))
    except ConnectorError:
        return None


def _session_refs(connector: Connector, item: Item, sessions: set[str]) -> tuple[tuple[str, int], ...]:
    """(session id, line) for every line of a small JSON file that holds one of `sessions` as a JSON string."""
    try:
        with connector.open(item) as stream:
            data = stream.read(_MAX_ORG_FILE + 1)
    except ConnectorError:
        return ()
    if len(data) > _MAX_ORG_FILE:
        return ()
    refs: list[tuple[str, int]] = []
    quoted = {sid: b'"' + sid.encode("utf-8", "surrogateescape") + b'"' for sid in sessions}
    for number, line in enumerate(data.split(b"\n"), start=1):
        refs.extend((sid, number) for sid, needle in quoted.items() if needle in line)
    return tuple(sorted(refs))


def _info(artifact: Artifact, identity: tuple[str, int] | None, refs: tuple[tuple[str, int], ...] = ()) -> ArtifactInfo:
    sha256, lines = identity if identity else (None, None)
    file = artifact.item.read_as(artifact.kind.value, artifact.fmt.value, sha256=sha256, lines=lines)
    return ArtifactInfo(file, artifact.session_id, session_refs=refs, app=artifact.app, erase=artifact.erase)


def discover_endpoint(
    connector: Connector,
    name: str,
    matcher: Matcher,
    *,
    owner_ids: Sequence[str] = (),
    classify: bool = False,
) -> LocationDiscovery:
    """Scan one endpoint and record the identity (size, version, sha256, line count) of what erasure may touch.

    Files are hashed only when they have findings, belong to a session with findings, reference such a
    session (per-org files) or are user outputs (`~/Claude/`); residual stores and never-opened files
    (`fmt == none`) are listed without a hash.

    Args:
        connector: the endpoint.
        name: its configured name.
        matcher: the subject's matcher.
        owner_ids: the endpoint's configured owner identifier(s) (ownership rule).
        classify: whether the scan classifies categories (not needed for erasure).
    """
    result = scan_endpoint(connector, name, matcher, owner_ids=owner_ids, classify=classify)
    paths = {item.path for item in result.items} | set(result.residual_databases)
    sessions = {item.session_id for item in result.items if item.session_id}
    sessions |= {sid for sid, _ in result.owned_sessions}
    repos = {repo for path in paths if (repo := repository_of(path)) is not None}
    infos: list[ArtifactInfo] = []
    for entry in iter_artifacts(connector):
        if isinstance(entry, Skipped):
            continue
        relevant = entry.item.path in paths or (entry.session_id is not None and entry.session_id in sessions)
        # Every file of a shadow git repository with findings: the repository goes whole.
        relevant = relevant or (entry.kind is ArtifactKind.SHADOW_GIT and repository_of(entry.item.path) in repos)
        refs: tuple[tuple[str, int], ...] = ()
        if entry.kind in _REFERRING_KINDS and sessions:
            refs = _session_refs(connector, entry.item, sessions)
        if entry.kind in (ArtifactKind.RESIDUAL, ArtifactKind.ENCRYPTED_STORE):
            infos.append(_info(entry, None))
        elif relevant or refs or entry.kind is ArtifactKind.USER_OUTPUT:
            # User outputs are hashed even without findings: copies of a deleted session's outputs go with it.
            identity = None if entry.fmt is RecordFormat.NONE else _read_identity(connector, entry.item)
            infos.append(_info(entry, identity, refs))
    return LocationDiscovery(
        name,
        "endpoint",
        tuple(result.items),
        result.owned_sessions,
        tuple(infos),
        result.skipped,
        result.residual_databases,
        owner_is_subject=any(matcher.is_identifier(owner) for owner in owner_ids if owner),
    )


def discover_store(connector: VersionedStore, matcher: Matcher) -> LocationDiscovery:
    """Scan every version of an S3 store and record each version's identity and Object Lock state.

    The sha256 and line count are of the decoded content (`open_content`: gunzipped), the form the
    executor rewrites; the version token pins the stored bytes.
    """
    result = scan_store(connector, matcher, classify=False)
    keys = {item.path for item in result.items}
    infos: list[ArtifactInfo] = []
    for entry in connector.iter_items():
        if isinstance(entry, Skipped) or entry.path not in keys:
            continue
        identity: tuple[str, int] | None
        try:
            with connector.open_content(entry) as stream:
                identity = _hash_and_lines(iter(lambda: stream.read(CHUNK_SIZE), b""))
            lock = connector.lock_status(entry)
        except ConnectorError:
            identity, lock = None, None
        sha256, lines = identity if identity else (None, None)
        infos.append(
            ArtifactInfo(
                entry.read_as("s3_object", scannable_format(entry.path) or "none", sha256=sha256, lines=lines),
                locked=bool(lock and lock.is_locked()),
                lock_mode=lock.mode if lock else None,
                legal_hold=bool(lock and lock.legal_hold),
            )
        )
    return LocationDiscovery(connector.name, "store", tuple(result.items), (), tuple(infos), result.skipped)
