"""Retention planning: which sessions and files are past their policy's period, and what holds and freezes keep.

Owns the session as the unit of disposal (every file grouped with it, wherever the store nests it), the age
rule's inputs (record, transcript and audit times, mtimes only as a last resort; docs/histories.md), the
hold and access-freeze skips and the purge plan's counts and JSON form (no personal data).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from connectors.agents import agent_layout
from connectors.base import CHUNK_SIZE, Connector, Item, Skipped, VersionedStore, scannable_format
from connectors.layouts import (
    CLAUDE_CODE,
    COWORK,
    Artifact,
    ArtifactKind,
    RecordFormat,
    SessionRecord,
    artifact_last_activity_at,
    iter_artifacts,
    parse_timestamp,
    read_session_record,
    row_last_activity_at,
    session_dirs,
    session_last_activity_at,
)
from connectors.records import iter_records
from connectors.sqlite_store import iter_db_records, private_copy
from detection.matcher import Matcher
from erasure.plan import ActionKind, ErasurePlan, PlannedAction
from erasure.rewrite import drop_lines
from models.errors import ConfigError, ConnectorError, DatabaseError, InputError
from models.holds import Hold, hold_covers, hold_from_settings
from models.settings import EndpointSettings, RetentionPolicy, Settings
from retention.policies import (
    CONVERSATION,
    LINE_TIMES,
    S3_OBJECT_KIND,
    is_expired,
    policy_for,
    policy_table,
    select_policies,
)

RETENTION_REQUEST_ID = "retention"
"""The pseudo request id of purge plans: keeps the executor's idempotency keys stable across purge runs."""

PLAN_FORMAT = "dsr-purge-plan/1"
HOLD_GROUND = "legal_claims"  # Art. 17(3)(e): establishment, exercise or defence of legal claims
FREEZE_GROUND = "access_freeze"

_K = ArtifactKind
_ANCHORS = (_K.SESSION_RECORD, _K.CODE_SESSION_RECORD, _K.TRANSCRIPT)
_RECORD_KINDS = frozenset({_K.SESSION_RECORD, _K.CODE_SESSION_RECORD})
SESSION_CONTENT = frozenset(
    {
        _K.TRANSCRIPT,
        _K.SUBAGENT,
        _K.SUBAGENT_META,
        _K.TOOL_RESULT,
        _K.AUDIT_LOG,
        _K.AUDIT_KEY,
        _K.UPLOAD,
        _K.OUTPUT,
    }
)
"""Kinds that live inside one conversation's folder: a file of these kinds must be grouped with a session."""
_SESSION_APPS = frozenset({COWORK, CLAUDE_CODE})
"""Agents whose session content sits in per-session folders (other agents' logs need no session of their own)."""
_NEVER = frozenset({_K.RESIDUAL})  # residual stores are reported, never edited (erasure plan rule)
_STORE_FORMATS = {
    "json": RecordFormat.JSON,
    "jsonl": RecordFormat.JSONL,
    "text": RecordFormat.TEXT,
    "markdown": RecordFormat.TEXT,
}


Concerns = Callable[[Matcher], bool]
"""Whether an item (files, or a conversation's rows) concerns the subject of a matcher."""


class PurgeUnit(StrEnum):
    """What a candidate disposes of."""

    SESSION = "session"  # a whole conversation: every file grouped with it, then its directories
    FILE = "file"  # one whole file or S3 object
    LINES = "lines"  # the expired lines of one file (a `redact` policy)
    ROWS = "rows"  # one conversation's rows of an agent's database


class PurgeStatus(StrEnum):
    """What the purge does with a candidate past its period."""

    PURGE = "purge"  # deleted by a real run
    RETAINED = "retained"  # a legal hold covers it (Art. 17(3)(e))
    FROZEN = "frozen"  # its subject has an open access or portability request


@dataclass(frozen=True)
class SubjectProbe:
    """How to tell whether an item concerns a hold's subject.

    Attributes:
        hashes: the keyed identifier hashes of one subject (as holds store them).
        matcher: the subject's matcher; None when the identifiers are no longer known (then every item
            counts as concerning the subject: a hold errs on keeping).
    """

    hashes: frozenset[str]
    matcher: Matcher | None


@dataclass(frozen=True)
class PurgeCandidate:
    """One session or file past its retention period.

    Attributes:
        location: endpoint or store name.
        location_type: `endpoint` or `store`.
        policy: the retention policy's name.
        policy_version: the policy's version.
        unit: `session` (deleted whole), `file`, `lines` (the expired lines of one file) or `rows` (one
            conversation's rows deleted from an agent's database).
        path: the session's record (or transcript) path, the file path / S3 key, or the database path.
        session_id: the session, where there is one.
        files: every file the deletion removes (compare-and-swap baselines; sha256 for purges only).
        dirs: session directories removed after their files.
        reference_at: the instant the period runs from (per the policy's trigger).
        status: purge, retained or frozen.
        hold_id: the covering hold (retained).
        frozen_by: the open request that freezes it (frozen).
        version_ids: S3 versions to delete.
        lines: for unit `lines`: the 1-based expired lines a `redact` policy drops.
        sha256_after: for unit `lines`: the file's hash once they are dropped (recognises a crashed rerun).
        records: for unit `rows`: the conversation's rows (`<table>:<key>`).
        app: for unit `rows`: the agent whose database it is (its app must be closed).
    """

    location: str
    location_type: str
    policy: str
    policy_version: str
    unit: PurgeUnit
    path: str
    session_id: str | None
    files: tuple[Item, ...]
    dirs: tuple[str, ...]
    reference_at: datetime
    status: PurgeStatus
    hold_id: str | None = None
    frozen_by: str | None = None
    version_ids: tuple[str, ...] = ()
    lines: tuple[int, ...] = ()
    sha256_after: str | None = None
    records: tuple[str, ...] = ()
    app: str | None = None


@dataclass(frozen=True)
class PurgePlan:
    """Everything a purge run would delete, and what it keeps and why (no personal data).

    Attributes:
        created_at: the `now` the plan was made for (aware UTC).
        policies: (name, version) of every policy applied.
        candidates: sessions and files past their period, in a stable order.
        unreached: (location, status) of locations that could not be read.
        ungrouped: (location, path, kind) of files that look like a conversation's content but group with
            no conversation: reported and kept, never deleted on their own.
        partial: (location, session id, paths that stay) of conversations a policy of named kinds takes
            only part of: exactly which of their files stay.
    """

    created_at: datetime
    policies: tuple[tuple[str, str], ...]
    candidates: tuple[PurgeCandidate, ...]
    unreached: tuple[tuple[str, str], ...] = ()
    ungrouped: tuple[tuple[str, str, str], ...] = ()
    partial: tuple[tuple[str, str, tuple[str, ...]], ...] = ()

    def with_status(self, status: PurgeStatus) -> tuple[PurgeCandidate, ...]:
        """The candidates with this status."""
        return tuple(c for c in self.candidates if c.status is status)

    def rows(self) -> list[dict[str, Any]]:
        """Counts per policy, location, kind and status: whole files, dropped lines and bytes (the dry run's table)."""
        table: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        for cand in self.candidates:
            for ref in cand.files:
                key = (cand.policy, cand.location, ref.kind, cand.status.value)
                row = table.setdefault(
                    key,
                    {
                        "policy": key[0],
                        "location": key[1],
                        "kind": key[2],
                        "status": key[3],
                        "files": 0,
                        "lines": 0,
                        "rows": 0,
                        "bytes": 0,
                    },
                )
                if cand.unit is PurgeUnit.LINES:
                    row["lines"] += len(cand.lines)
                elif cand.unit is PurgeUnit.ROWS:
                    row["rows"] += len(cand.records)
                else:
                    row["files"] += 1
                    row["bytes"] += ref.size
        return [table[k] for k in sorted(table)]

    def totals(self) -> dict[str, dict[str, int]]:
        """Per status: sessions (conversations, whole or as database rows), whole files, dropped lines, deleted
        database rows and bytes of whole files."""
        out = {s.value: {"sessions": 0, "files": 0, "lines": 0, "rows": 0, "bytes": 0} for s in PurgeStatus}
        for cand in self.candidates:
            row = out[cand.status.value]
            row["sessions"] += cand.unit in (PurgeUnit.SESSION, PurgeUnit.ROWS)
            if cand.unit is PurgeUnit.LINES:
                row["lines"] += len(cand.lines)
                continue
            if cand.unit is PurgeUnit.ROWS:
                row["rows"] += len(cand.records)
                continue
            row["files"] += len(cand.files)
            row["bytes"] += sum(f.size for f in cand.files)
        return out

    def counts(self) -> dict[str, Any]:
        """Files (or dropped lines) per category (kind), system (location) and policy, with totals (`RetentionRun`)."""
        by: dict[str, dict[str, dict[str, int]]] = {"kind": {}, "location": {}, "policy": {}}
        for row in self.rows():
            for dim, table in by.items():
                cell = table.setdefault(row[dim], {})
                cell[row["status"]] = cell.get(row["status"], 0) + row["files"] + row["lines"] + row["rows"]
        return {
            "by_kind": by["kind"],
            "by_location": by["location"],
            "by_policy": by["policy"],
            "totals": self.totals(),
            "unreached": [list(u) for u in self.unreached],
            "ungrouped": len(self.ungrouped),
            "partial_conversations": len(self.partial),
        }

    def to_json(self) -> str:
        """JSON text of the plan (paths, hashes, ids and counts only), for resuming a crashed real run."""
        candidates = []
        for cand in self.candidates:
            body = dataclasses.asdict(cand)
            body["files"] = [f.baseline() for f in cand.files]
            body["status"] = cand.status.value
            body["reference_at"] = cand.reference_at.isoformat()
            candidates.append(body)
        document = {
            "format": PLAN_FORMAT,
            "created_at": self.created_at.isoformat(),
            "policies": [list(p) for p in self.policies],
            "unreached": [list(u) for u in self.unreached],
            "ungrouped": [list(u) for u in self.ungrouped],
            "partial": [[loc, sid, list(stay)] for loc, sid, stay in self.partial],
            "candidates": candidates,
        }
        return json.dumps(document, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> PurgePlan:
        """Parse `to_json` output.

        Raises:
            InputError: not a purge plan of this format.
        """
        try:
            document = json.loads(text)
        except ValueError:
            raise InputError("purge plan is not valid JSON", field="plan") from None
        if not isinstance(document, dict) or document.get("format") != PLAN_FORMAT:
            raise InputError(f"purge plan format must be {PLAN_FORMAT}", field="plan")
        candidates = []
        for body in document["candidates"]:
            candidates.append(
                PurgeCandidate(
                    **{
                        **body,
                        "files": tuple(Item.from_baseline(body["location"], f) for f in body["files"]),
                        "dirs": tuple(body["dirs"]),
                        "version_ids": tuple(body["version_ids"]),
                        "lines": tuple(body["lines"]),
                        "records": tuple(body.get("records", ())),
                        "status": PurgeStatus(body["status"]),
                        "unit": PurgeUnit(body["unit"]),
                        "reference_at": datetime.fromisoformat(body["reference_at"]),
                    }
                )
            )
        return cls(
            created_at=datetime.fromisoformat(document["created_at"]),
            policies=tuple((str(n), str(v)) for n, v in document["policies"]),
            candidates=tuple(candidates),
            unreached=tuple((str(n), str(st)) for n, st in document["unreached"]),
            ungrouped=tuple((str(n), str(p), str(k)) for n, p, k in document.get("ungrouped", ())),
            partial=tuple((str(n), str(sid), tuple(stay)) for n, sid, stay in document.get("partial", ())),
        )

    def to_erasure_plan(self) -> ErasurePlan:
        """The plan in the erasure executor's terms: deletions plus recorded exceptions (held, frozen).

        Dropping expired lines (unit `lines`) and conversations' rows of databases (unit `rows`, with their
        held or frozen rows' exceptions, one per conversation) are not executor actions: `execute_purge` does
        them itself.
        """
        actions = [to_action(c) for c in self.candidates if not executed_by_purge(c)]
        return ErasurePlan(RETENTION_REQUEST_ID, self.created_at, 0.0, tuple(actions))


def drops_lines(cand: PurgeCandidate) -> bool:
    return cand.unit is PurgeUnit.LINES and cand.status is PurgeStatus.PURGE


def executed_by_purge(cand: PurgeCandidate) -> bool:
    """Whether `execute_purge` carries the candidate out itself (expired lines; a conversation's rows)."""
    return drops_lines(cand) or cand.unit is PurgeUnit.ROWS


def to_action(cand: PurgeCandidate) -> PlannedAction:
    fields: dict[str, Any] = {"path": cand.path, "session_id": cand.session_id}
    if drops_lines(cand):
        kind, reason = ActionKind.REDACT, "retention"
        fields["target"], fields["lines"] = cand.files[0], cand.lines
    elif cand.status is PurgeStatus.RETAINED:
        kind = ActionKind.EXCEPTION
        reason, fields["ground"], fields["hold_id"] = "legal_hold", HOLD_GROUND, cand.hold_id
    elif cand.status is PurgeStatus.FROZEN:
        kind, reason, fields["ground"] = ActionKind.EXCEPTION, FREEZE_GROUND, FREEZE_GROUND
    elif cand.location_type == "store":
        kind, reason = ActionKind.S3_ERASE_OBJECT, "retention"
        fields["target"], fields["version_ids"] = cand.files[0], cand.version_ids
    elif cand.unit is PurgeUnit.SESSION:
        kind, reason = ActionKind.DELETE_SESSION, "retention"
        fields["files"], fields["dirs"] = cand.files, cand.dirs
    else:
        kind, reason, fields["target"] = ActionKind.DELETE_FILE, "retention", cand.files[0]
    probe = PlannedAction("", kind, cand.location, cand.location_type, reason, **fields)
    body = probe.to_dict()
    body.pop("action_id")
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:24]
    return dataclasses.replace(probe, action_id=digest)


# -- reading ---------------------------------------------------------------------------------------------


def _sha256(connector: Connector, item: Item) -> str:
    digest = hashlib.sha256()
    with connector.open(item) as stream:
        for chunk in iter(lambda: stream.read(CHUNK_SIZE), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _ref(connector: Connector, artifact: Artifact, *, hashed: bool) -> Item:
    item = artifact.item
    sha = _sha256(connector, item) if hashed and artifact.fmt is not RecordFormat.NONE else None
    return item.read_as(artifact.kind.value, artifact.fmt.value, sha256=sha)


def _mentions(connector: Connector, artifact: Artifact, matcher: Matcher) -> bool:
    if artifact.fmt is RecordFormat.NONE:
        return False
    with connector.open(artifact.item) as stream:
        return any(True for _ in matcher.scan(stream, artifact.fmt))


@dataclass
class _Session:
    session_id: str
    artifacts: list[Artifact]
    record: SessionRecord | None = None

    @property
    def anchor(self) -> Artifact | None:
        for kind in _ANCHORS:
            found = sorted((a for a in self.artifacts if a.kind is kind), key=lambda a: a.item.path)
            if found:
                return found[0]
        return None


@dataclass
class _Rows:
    """One conversation's rows in a database: their keys, decoded values and time span."""

    records: list[str] = dataclasses.field(default_factory=list)
    values: list[dict[str, object]] = dataclasses.field(default_factory=list)
    first: datetime | None = None
    last: datetime | None = None

    def jsonl(self) -> bytes:
        """The rows' decoded values as JSON lines (for matching a subject)."""
        return b"".join(json.dumps(v, default=str, ensure_ascii=False).encode() + b"\n" for v in self.values)


RowSession = Callable[[str, str, Mapping[str, object]], str | None]


def _conversation_rows(connector: Connector, art: Artifact, row_session: RowSession) -> dict[str, _Rows]:
    """Conversation id -> its rows, from a private copy of the database (with its WAL).

    Raises:
        DatabaseError: not a readable database.
    """
    out: dict[str, _Rows] = {}
    with private_copy(connector, art.item) as copy:
        for row in iter_db_records(copy):
            value = row.value()
            sid = row_session(row.table, row.key, value)
            if not sid:
                continue
            conv = out.setdefault(sid, _Rows())
            conv.records.append(row.record)
            conv.values.append(value)
            stamp = row_last_activity_at(
                art.app, {k: c.value if c.value is not None else c.raw for k, c in row.cells.items()}
            )
            if stamp is not None:
                conv.first = stamp if conv.first is None else min(conv.first, stamp)
                conv.last = stamp if conv.last is None else max(conv.last, stamp)
    return out


# -- planning --------------------------------------------------------------------------------------------


class _Planner:
    def __init__(
        self,
        settings: Settings,
        now: datetime,
        holds: Sequence[Hold],
        frozen: Mapping[str, Matcher],
        probes: Sequence[SubjectProbe],
    ) -> None:
        self.settings = settings
        self.now = now
        self.holds = [h for h in holds if h.active]
        self.frozen = frozen
        self.probes = probes
        self.probe_universe = {h for p in probes for h in p.hashes}
        self.ungrouped: list[tuple[str, str, str]] = []
        self.partial: list[tuple[str, str, tuple[str, ...]]] = []

    # -- the skips ---------------------------------------------------------------------------------------

    def _subject_hashes(self, concerns: Concerns) -> set[str]:
        found: set[str] = set()
        for probe in self.probes:
            if probe.matcher is None or concerns(probe.matcher):
                found |= probe.hashes
        return found

    @staticmethod
    def _concerns(
        connector: Connector,
        arts: Sequence[Artifact],
        matcher: Matcher,
        owner: str | None,
        record: SessionRecord | None,
    ) -> bool:
        """Whether the subject owns the item (endpoint owner, record account) or is named in its files."""
        if owner and matcher.is_identifier(owner):
            return True
        if record is not None and any(
            v and matcher.is_identifier(v) for v in (record.email_address, record.account_id)
        ):
            return True
        return any(_mentions(connector, a, matcher) for a in arts)

    def hold_for(
        self, location: str, paths: Sequence[str], dates: tuple[date, date] | None, concerns: Concerns
    ) -> str | None:
        """The first active hold covering any of `paths` (`concerns` tells whether a subject is in the item)."""
        hashes: set[str] | None = None
        for hold in self.holds:
            subjects: set[str] | None = None
            if hold.subjects:
                if {s.lower() for s in hold.subjects} - self.probe_universe:
                    subjects = None  # a subject we cannot recognise: the hold errs on keeping
                else:
                    if hashes is None:
                        hashes = self._subject_hashes(concerns)
                    subjects = hashes
            for path in paths:
                if hold_covers(hold, endpoint=location, path=path, session_dates=dates, subject_hashes=subjects):
                    return hold.id
        return None

    def frozen_by(self, concerns: Concerns) -> str | None:
        """The open access request whose subject the item concerns."""
        for request_id in sorted(self.frozen):
            if concerns(self.frozen[request_id]):
                return request_id
        return None

    # -- one candidate -----------------------------------------------------------------------------------

    def candidate(
        self,
        connector: Connector,
        location: str,
        policy: RetentionPolicy,
        unit: PurgeUnit,
        arts: Sequence[Artifact],
        reference_at: datetime,
        first_at: datetime,
        *,
        owner: str | None,
        record: SessionRecord | None = None,
        session_id: str | None = None,
        path: str | None = None,
        others: Sequence[Artifact] = (),
    ) -> PurgeCandidate:
        arts = sorted(arts, key=lambda a: a.item.path)
        dates = (first_at.astimezone(UTC).date(), reference_at.astimezone(UTC).date())
        dates = (min(dates), max(dates))

        def concerns(matcher: Matcher) -> bool:
            return self._concerns(connector, arts, matcher, owner, record)

        hold_id = self.hold_for(location, [a.item.path for a in arts], dates, concerns)
        frozen_by = None if hold_id else self.frozen_by(concerns)
        status = PurgeStatus.RETAINED if hold_id else PurgeStatus.FROZEN if frozen_by else PurgeStatus.PURGE
        hashed = status is PurgeStatus.PURGE
        dirs: tuple[str, ...] = ()
        if unit is PurgeUnit.SESSION and session_id and hashed:
            dirs = tuple(session_dirs(session_id, (a.item.path for a in arts), (o.item.path for o in others)))
        return PurgeCandidate(
            location=location,
            location_type="endpoint",
            policy=policy.name,
            policy_version=policy.version,
            unit=unit,
            path=path or arts[0].item.path,
            session_id=session_id,
            files=tuple(_ref(connector, a, hashed=hashed) for a in arts),
            dirs=dirs,
            reference_at=reference_at,
            status=status,
            hold_id=hold_id,
            frozen_by=frozen_by,
        )

    # -- endpoints ---------------------------------------------------------------------------------------

    def endpoint(
        self, connector: Connector, endpoint: EndpointSettings, policies: Sequence[RetentionPolicy]
    ) -> list[PurgeCandidate]:
        table = policy_table(policies, endpoint.group)
        if not table:
            return []
        listed = [a for a in iter_artifacts(connector) if not isinstance(a, Skipped)]
        arts = [a for a in listed if a.kind not in _NEVER]
        sessions = self._sessions(connector, arts)
        out: list[PurgeCandidate] = []
        grouped = {id(a) for s in sessions for a in s.artifacts}
        for sess in sessions:
            # Residual files count as "other" artifacts: no session directory holding one is removed.
            out.extend(self._session(connector, endpoint, table, sess, listed))
        for art in arts:
            if id(art) in grouped:
                continue
            if art.session_id is None and art.app in _SESSION_APPS and art.kind in SESSION_CONTENT:
                # Looks like a conversation's content, yet no conversation claims it: reported, never
                # deleted on its own nor silently kept.
                self.ungrouped.append((endpoint.name, art.item.path, art.kind.value))
                continue
            if CONVERSATION in table and art.fmt is RecordFormat.SQLITE:
                # Conversations kept as rows of an agent's database: each conversation goes by its own rows'
                # age; a database the purge cannot change here is reported as kept, never passed over.
                rows = self.database_rows(connector, endpoint, table[CONVERSATION], art)
                if rows is None:
                    self.ungrouped.append((endpoint.name, art.item.path, art.kind.value))
                else:
                    out.extend(rows)
                continue
            pol = policy_for(table, art)
            if pol is None:
                continue
            if pol.action == "redact":
                found = self.expired_lines(connector, endpoint, pol, art)
                if found is not None:
                    out.append(found)
                continue
            last = artifact_last_activity_at(connector, art)
            mtime = art.item.modified_at
            # No creation time outside sessions: the file's mtime stands in (memory notes age by mtime).
            ref = {"last_activity": last, "end_of_year": last}.get(pol.trigger, mtime)
            if is_expired(pol, ref, self.now):
                out.append(
                    self.candidate(
                        connector, endpoint.name, pol, PurgeUnit.FILE, [art], ref, mtime, owner=endpoint.owner
                    )
                )
        return out

    def expired_lines(
        self, connector: Connector, endpoint: EndpointSettings, pol: RetentionPolicy, art: Artifact
    ) -> PurgeCandidate | None:
        """A `redact` policy over a file of timestamped records: drop the records past the period (each by
        its own time); the whole file when every record is; records without a time are kept."""
        with connector.open(art.item) as stream:
            data = b"".join(iter(lambda: stream.read(CHUNK_SIZE), b""))
        field = LINE_TIMES[art.kind]
        expired: list[int] = []
        stamps: list[datetime] = []
        total = 0
        for record in iter_records(io.BytesIO(data), art.fmt):
            total += 1
            stamp = parse_timestamp(record.value.get(field)) if isinstance(record.value, dict) else None
            if stamp is not None and is_expired(pol, stamp, self.now):
                expired.append(record.line)
                stamps.append(stamp)
        if not expired:
            return None
        unit = PurgeUnit.FILE if len(expired) == total else PurgeUnit.LINES
        cand = self.candidate(
            connector, endpoint.name, pol, unit, [art], max(stamps), min(stamps), owner=endpoint.owner
        )
        if unit is PurgeUnit.FILE:
            return cand
        if cand.status is not PurgeStatus.PURGE:
            return dataclasses.replace(cand, lines=tuple(expired))
        ref = dataclasses.replace(cand.files[0], sha256=hashlib.sha256(data).hexdigest())
        after = hashlib.sha256(drop_lines(data, expired).data).hexdigest()
        return dataclasses.replace(cand, files=(ref,), lines=tuple(expired), sha256_after=after)

    def database_rows(
        self, connector: Connector, endpoint: EndpointSettings, pol: RetentionPolicy, art: Artifact
    ) -> list[PurgeCandidate] | None:
        """A conversation policy over an agent's database of conversations: one candidate per conversation
        past its period, aged by its own rows' times (the layout's time fields; the database's and its WAL's
        newest mtime when no row carries one, which errs on keeping). Rows the layout ties to no conversation
        stay. None when the database cannot be changed here (no local disk, no declared conversation key,
        unreadable)."""
        layout = agent_layout(art.app)
        if layout is None or layout.row_session is None or not callable(getattr(connector, "database_path", None)):
            return None
        try:
            conversations = _conversation_rows(connector, art, layout.row_session)
        except DatabaseError:
            return None
        if not conversations:
            return []
        mtime = art.item.modified_at
        with contextlib.suppress(ConnectorError):  # no WAL beside it
            mtime = max(mtime, connector.stat(art.item.path + "-wal").modified_at)
        ref = _ref(connector, art, hashed=True)
        out = []
        for sid, conv in sorted(conversations.items()):
            last, first = conv.last or mtime, conv.first or conv.last or mtime
            reference = {"creation": first, "file_age": mtime}.get(pol.trigger, last)
            if not is_expired(pol, reference, self.now):
                continue
            out.append(self.rows_candidate(endpoint, pol, art, ref, sid, conv, (first, last), reference))
        return out

    def rows_candidate(
        self,
        endpoint: EndpointSettings,
        pol: RetentionPolicy,
        art: Artifact,
        ref: Item,
        sid: str,
        conv: _Rows,
        span: tuple[datetime, datetime],
        reference: datetime,
    ) -> PurgeCandidate:
        """One conversation's rows, with the hold or access freeze that keeps them."""

        def concerns(matcher: Matcher) -> bool:
            if endpoint.owner and matcher.is_identifier(endpoint.owner):
                return True
            return any(True for _ in matcher.scan(io.BytesIO(conv.jsonl()), RecordFormat.JSONL))

        days = sorted(d.astimezone(UTC).date() for d in span)
        hold_id = self.hold_for(endpoint.name, [art.item.path], (days[0], days[-1]), concerns)
        frozen_by = None if hold_id else self.frozen_by(concerns)
        status = PurgeStatus.RETAINED if hold_id else PurgeStatus.FROZEN if frozen_by else PurgeStatus.PURGE
        return PurgeCandidate(
            location=endpoint.name,
            location_type="endpoint",
            policy=pol.name,
            policy_version=pol.version,
            unit=PurgeUnit.ROWS,
            path=art.item.path,
            session_id=sid,
            files=(ref,),
            dirs=(),
            reference_at=reference,
            status=status,
            hold_id=hold_id,
            frozen_by=frozen_by,
            records=tuple(sorted(conv.records)),
            app=art.app,
        )

    @staticmethod
    def _sessions(connector: Connector, arts: Sequence[Artifact]) -> list[_Session]:
        by_id: dict[str, _Session] = {}
        for art in arts:
            if art.session_id:
                by_id.setdefault(art.session_id, _Session(art.session_id, [])).artifacts.append(art)
        for sess in list(by_id.values()):
            record_art = next((a for a in sess.artifacts if a.kind in _RECORD_KINDS), None)
            if record_art is None:
                continue
            sess.record = read_session_record(connector, record_art)
            cli = sess.record.cli_session_id if sess.record else None
            # A Code-tab record's transcript lives in ~/.claude/projects/ under the CLI session id: one session.
            if record_art.kind is _K.CODE_SESSION_RECORD and cli and cli in by_id and cli != sess.session_id:
                other = by_id[cli]
                if not any(a.kind in _RECORD_KINDS for a in other.artifacts):
                    sess.artifacts.extend(other.artifacts)
                    del by_id[cli]
        return [by_id[k] for k in sorted(by_id)]

    def _session(
        self,
        connector: Connector,
        endpoint: EndpointSettings,
        table: Mapping[str, RetentionPolicy],
        sess: _Session,
        every: Sequence[Artifact],
    ) -> list[PurgeCandidate]:
        last = session_last_activity_at(connector, sess.artifacts)
        if last is None:
            return []
        created = (sess.record.created_at if sess.record else None) or last
        newest_mtime = max(a.item.modified_at for a in sess.artifacts)

        def reference(pol: RetentionPolicy, art: Artifact | None) -> datetime:
            if pol.trigger == "creation":
                # Without a record's createdAt the last activity stands in (later, so it errs on keeping).
                return created
            if pol.trigger == "file_age":
                return art.item.modified_at if art is not None else newest_mtime
            return last

        anchor = sess.anchor
        conversation = table.get(CONVERSATION)
        if conversation is not None:
            # A conversation policy governs every conversation of the location whole; kinds never split one.
            if anchor is None:
                anchor = min(sess.artifacts, key=lambda a: a.item.path)
            pol: RetentionPolicy | None = conversation
        else:
            pol = policy_for(table, anchor) if anchor is not None else None
        if anchor is not None and pol is not None and is_expired(pol, reference(pol, None), self.now):
            mine = {id(a) for a in sess.artifacts}
            others = [a for a in every if id(a) not in mine]
            return [
                self.candidate(
                    connector,
                    endpoint.name,
                    pol,
                    PurgeUnit.SESSION,
                    sess.artifacts,
                    reference(pol, None),
                    created,
                    owner=endpoint.owner,
                    record=sess.record,
                    session_id=sess.session_id,
                    path=anchor.item.path,
                    others=others,
                )
            ]
        out: list[PurgeCandidate] = []
        if conversation is not None:
            return out
        for art in sess.artifacts:
            file_pol = policy_for(table, art)
            if file_pol is None or art is anchor:
                continue
            ref = reference(file_pol, art)
            if is_expired(file_pol, ref, self.now):
                out.append(
                    self.candidate(
                        connector,
                        endpoint.name,
                        file_pol,
                        PurgeUnit.FILE,
                        [art],
                        ref,
                        created,
                        owner=endpoint.owner,
                        record=sess.record,
                        session_id=sess.session_id,
                    )
                )
        if out:
            going = {f.path for c in out for f in c.files}
            stay = tuple(sorted(a.item.path for a in sess.artifacts if a.item.path not in going))
            if stay:
                self.partial.append((endpoint.name, sess.session_id, stay))
        return out

    # -- stores ------------------------------------------------------------------------------------------

    def store_frozen_by(self, connector: Connector, key: str, versions: Sequence[Item]) -> str | None:
        """The open access request whose subject any version of the object names; an object that cannot be
        scanned is frozen while any access request is open (the freeze errs on keeping)."""
        if not self.frozen:
            return None
        fmt = _STORE_FORMATS.get(scannable_format(key) or "")
        if fmt is None:
            return min(self.frozen)
        for request_id in sorted(self.frozen):
            matcher = self.frozen[request_id]
            for item in versions:
                stream = connector.open_content(item) if isinstance(connector, VersionedStore) else connector.open(item)
                with stream:
                    if any(True for _ in matcher.scan(stream, fmt)):
                        return request_id
        return None

    def store(self, connector: Connector, name: str, policy: RetentionPolicy) -> list[PurgeCandidate]:
        versions: dict[str, list[Item]] = defaultdict(list)
        for entry in connector.iter_items(""):
            if isinstance(entry, Item):
                versions[entry.path].append(entry)
        out = []
        for key in sorted(versions):
            items = versions[key]
            newest = max(items, key=lambda i: i.modified_at)
            current = next((i for i in items if i.is_latest), None)
            if current is None or not is_expired(policy, newest.modified_at, self.now):
                continue
            hold_id = next(
                (
                    h.id
                    for h in self.holds
                    if hold_covers(
                        h,
                        endpoint=name,
                        path=key,
                        session_dates=(newest.modified_at.date(), newest.modified_at.date()),
                        subject_hashes=None if h.subjects else set(),
                    )
                ),
                None,
            )
            frozen_by = None if hold_id else self.store_frozen_by(connector, key, items)
            status = PurgeStatus.RETAINED if hold_id else PurgeStatus.FROZEN if frozen_by else PurgeStatus.PURGE
            sha = _sha256(connector, current) if status is PurgeStatus.PURGE else None
            ref = current.read_as(S3_OBJECT_KIND, RecordFormat.BINARY.value, sha256=sha)
            out.append(
                PurgeCandidate(
                    location=name,
                    location_type="store",
                    policy=policy.name,
                    policy_version=policy.version,
                    unit=PurgeUnit.FILE,
                    path=key,
                    session_id=None,
                    files=(ref,),
                    dirs=(),
                    reference_at=newest.modified_at,
                    status=status,
                    hold_id=hold_id,
                    frozen_by=frozen_by,
                    version_ids=tuple(sorted(i.version_id for i in items if i.version_id)),
                )
            )
        return out


def plan_purge(
    settings: Settings,
    connectors: Callable[[str], Connector],
    *,
    now: datetime,
    frozen_matchers: Mapping[str, Matcher] | None = None,
    holds: Sequence[Hold] | None = None,
    subject_probes: Sequence[SubjectProbe] = (),
    policy: str | None = None,
) -> PurgePlan:
    """Select the sessions and files past their retention period, and what holds and freezes keep.

    A session's age runs from max(record `lastActivityAt`, last transcript `timestamp`, last
    `_audit_timestamp`), file mtimes only as a last resort (docs/histories.md); files outside
    sessions use their own last line timestamp, else mtime (memory notes: mtime). Per trigger the period
    runs from the last activity, the record's `createdAt`, the file mtime, or the end of the calendar year
    of the last activity. A policy that lists a session's anchor kind (`session_record`,
    `code_session_record`, or `transcript` for CLI sessions) deletes the whole session (record, files,
    session directories); other listed kinds go file by file. A `redact` policy (prompt history only)
    drops the records whose own timestamp is past the period, keeping the rest. Residual stores are never
    purged.
    Everything a hold covers is retained (Art. 17(3)(e)); everything concerning a subject with an open
    access request is frozen. Idempotent: what a real run deleted is not found again.

    Args:
        settings: the configuration (policies, endpoints and their groups and owners, stores).
        connectors: opens the connector of a location name (closed here).
        now: the aware UTC instant ages are measured at (tests pass the simulator's reference date).
        frozen_matchers: request id -> matcher of every open access or portability request.
        holds: the active holds; None uses the configured ones as they are.
        subject_probes: matchers of hold subjects (hold subjects without a probe are treated as present).
        policy: apply only the policy of this name.

    Raises:
        InputError: `now` is naive, or `policy` names no configured policy.
    """
    if now.tzinfo is None:
        raise InputError("purge time must be an aware datetime", field="now")
    policies = select_policies(settings, policy)
    planner = _Planner(
        settings,
        now,
        [hold_from_settings(h) for h in settings.holds] if holds is None else holds,
        frozen_matchers or {},
        subject_probes,
    )
    candidates: list[PurgeCandidate] = []
    unreached: list[tuple[str, str]] = []
    if policies:
        for endpoint in settings.endpoints:
            try:
                with connectors(endpoint.name) as connector:
                    candidates.extend(planner.endpoint(connector, endpoint, policies))
            except ConnectorError as exc:
                unreached.append((endpoint.name, exc.status.value))
            except ConfigError:
                unreached.append((endpoint.name, "config_error"))  # e.g. an ssh:// endpoint without a key
        store_policy = policy_table(policies, None).get(S3_OBJECT_KIND)
        for store in settings.stores if store_policy is not None else ():
            assert store_policy is not None  # noqa: S101 -- narrowed by the loop condition
            try:
                with connectors(store.name) as connector:
                    candidates.extend(planner.store(connector, store.name, store_policy))
            except ConnectorError as exc:
                unreached.append((store.name, exc.status.value))
    candidates.sort(key=lambda c: (c.location, c.path, c.unit))
    return PurgePlan(
        created_at=now.astimezone(UTC),
        policies=tuple((p.name, p.version) for p in policies),
        candidates=tuple(candidates),
        unreached=tuple(unreached),
        ungrouped=tuple(sorted(planner.ungrouped)),
        partial=tuple(sorted(planner.partial)),
    )
