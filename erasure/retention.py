"""Retention purges: which sessions and files are past their policy's period, and their execution.

Owns the age rule (endpoint-histories.md section 6), the policy match, the hold and access-freeze skips and the
purge plan's counts (no personal data). Execution reuses the erasure executor (same safety rules and ledger).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from connectors.base import CHUNK_SIZE, Connector, Expected, Item, Skipped, temp_name
from connectors.layouts import (
    Artifact,
    ArtifactKind,
    RecordFormat,
    SessionRecord,
    artifact_last_activity_at,
    iter_artifacts,
    parse_timestamp,
    read_session_record,
    session_last_activity_at,
)
from connectors.records import iter_records
from connectors.s3 import S3Connector, scannable_format
from detection.identifiers import SubjectIdentifiers
from detection.matcher import Matcher
from erasure.executor import (
    ActionOutcome,
    ActionStatus,
    ExecutionReport,
    KillHook,
    execute_plan,
    remove_own_temp_file,
    temp_tag,
)
from erasure.plan import ActionKind, ErasurePlan, FileRef, PlannedAction
from erasure.proof_path import path_fields, proof_path
from erasure.rewrite import drop_lines
from models.errors import BusyError, ConfigError, ConnectorError, InputError, ItemNotFoundError, VersionConflictError
from models.holds import Hold, hold_covers, hold_from_settings
from models.settings import EndpointSettings, RetentionPolicy, Settings
from proofs.entry import LedgerEntry
from proofs.ledger import Ledger, LedgerAction, ProofRecord

RETENTION_REQUEST_ID = "retention"
"""The pseudo request id of purge plans: keeps the executor's idempotency keys stable across purge runs."""

PLAN_FORMAT = "dsr-purge-plan/1"
S3_OBJECT_KIND = "s3_object"
HOLD_GROUND = "legal_claims"  # Art. 17(3)(e): establishment, exercise or defence of legal claims
FREEZE_GROUND = "access_freeze"

_K = ArtifactKind
_ANCHORS = (_K.SESSION_RECORD, _K.CODE_SESSION_RECORD, _K.TRANSCRIPT)
_RECORD_KINDS = frozenset({_K.SESSION_RECORD, _K.CODE_SESSION_RECORD})
_NEVER = frozenset({_K.RESIDUAL})  # residual stores are reported, never edited (erasure plan rule)
_STORE_FORMATS = {
    "json": RecordFormat.JSON,
    "jsonl": RecordFormat.JSONL,
    "text": RecordFormat.TEXT,
    "markdown": RecordFormat.TEXT,
}
_LINE_TIMES = {_K.PROMPT_HISTORY: "timestamp"}
"""Kinds outside sessions whose records carry their own time: `redact` policies drop their expired lines."""


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
        unit: `session` (deleted whole) or `file`.
        path: the session's record (or transcript) path, or the file path / S3 key.
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
    """

    location: str
    location_type: str
    policy: str
    policy_version: str
    unit: str
    path: str
    session_id: str | None
    files: tuple[FileRef, ...]
    dirs: tuple[str, ...]
    reference_at: datetime
    status: PurgeStatus
    hold_id: str | None = None
    frozen_by: str | None = None
    version_ids: tuple[str, ...] = ()
    lines: tuple[int, ...] = ()
    sha256_after: str | None = None


@dataclass(frozen=True)
class PurgePlan:
    """Everything a purge run would delete, and what it keeps and why (no personal data).

    Attributes:
        created_at: the `now` the plan was made for (aware UTC).
        policies: (name, version) of every policy applied.
        candidates: sessions and files past their period, in a stable order.
        unreached: (location, status) of locations that could not be read.
    """

    created_at: datetime
    policies: tuple[tuple[str, str], ...]
    candidates: tuple[PurgeCandidate, ...]
    unreached: tuple[tuple[str, str], ...] = ()

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
                        "bytes": 0,
                    },
                )
                if cand.unit == "lines":
                    row["lines"] += len(cand.lines)
                else:
                    row["files"] += 1
                    row["bytes"] += ref.size
        return [table[k] for k in sorted(table)]

    def totals(self) -> dict[str, dict[str, int]]:
        """Per status: sessions, whole files, dropped lines and bytes of whole files."""
        out = {s.value: {"sessions": 0, "files": 0, "lines": 0, "bytes": 0} for s in PurgeStatus}
        for cand in self.candidates:
            row = out[cand.status.value]
            row["sessions"] += cand.unit == "session"
            if cand.unit == "lines":
                row["lines"] += len(cand.lines)
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
                cell[row["status"]] = cell.get(row["status"], 0) + row["files"] + row["lines"]
        return {
            "by_kind": by["kind"],
            "by_location": by["location"],
            "by_policy": by["policy"],
            "totals": self.totals(),
            "unreached": [list(u) for u in self.unreached],
        }

    def to_json(self) -> str:
        """JSON text of the plan (paths, hashes, ids and counts only), for resuming a crashed real run."""
        candidates = []
        for cand in self.candidates:
            body = dataclasses.asdict(cand)
            body["status"] = cand.status.value
            body["reference_at"] = cand.reference_at.isoformat()
            candidates.append(body)
        document = {
            "format": PLAN_FORMAT,
            "created_at": self.created_at.isoformat(),
            "policies": [list(p) for p in self.policies],
            "unreached": [list(u) for u in self.unreached],
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
                        "files": tuple(FileRef(**f) for f in body["files"]),
                        "dirs": tuple(body["dirs"]),
                        "version_ids": tuple(body["version_ids"]),
                        "lines": tuple(body["lines"]),
                        "status": PurgeStatus(body["status"]),
                        "reference_at": datetime.fromisoformat(body["reference_at"]),
                    }
                )
            )
        return cls(
            created_at=datetime.fromisoformat(document["created_at"]),
            policies=tuple((str(n), str(v)) for n, v in document["policies"]),
            candidates=tuple(candidates),
            unreached=tuple((str(n), str(st)) for n, st in document["unreached"]),
        )

    def to_erasure_plan(self) -> ErasurePlan:
        """The plan in the erasure executor's terms: deletions plus recorded exceptions (held, frozen).

        Dropping expired lines (unit `lines`) is not an executor action: `execute_purge` does it itself.
        """
        actions = [_to_action(c) for c in self.candidates if not _drops_lines(c)]
        return ErasurePlan(RETENTION_REQUEST_ID, self.created_at, 0.0, tuple(actions))


def _drops_lines(cand: PurgeCandidate) -> bool:
    return cand.unit == "lines" and cand.status is PurgeStatus.PURGE


def _to_action(cand: PurgeCandidate) -> PlannedAction:
    fields: dict[str, Any] = {"path": cand.path, "session_id": cand.session_id}
    if _drops_lines(cand):
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
    elif cand.unit == "session":
        kind, reason = ActionKind.DELETE_SESSION, "retention"
        fields["files"], fields["dirs"] = cand.files, cand.dirs
    else:
        kind, reason, fields["target"] = ActionKind.DELETE_FILE, "retention", cand.files[0]
    probe = PlannedAction("", kind, cand.location, cand.location_type, reason, **fields)
    body = probe.to_dict()
    body.pop("action_id")
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:24]
    return dataclasses.replace(probe, action_id=digest)


# -- policies --------------------------------------------------------------------------------------------


def select_policies(settings: Settings, policy: str | None = None) -> list[RetentionPolicy]:
    """The policies a run applies: all configured ones, or the one named.

    Raises:
        InputError: `policy` names no configured policy.
        ConfigError: a `redact` policy lists kinds whose records carry no time of their own.
    """
    for pol in settings.retention:
        unsupported = sorted(k for k in pol.kinds if k.rsplit(":", 1)[-1] not in {t.value for t in _LINE_TIMES})
        if pol.action == "redact" and unsupported:
            raise ConfigError(
                f"retention policy {pol.name!r}: action 'redact' drops expired records and applies only to "
                f"{', '.join(sorted(t.value for t in _LINE_TIMES))}; use action 'delete' for {', '.join(unsupported)}",
                key="retention",
            )
    if policy is None:
        return list(settings.retention)
    chosen = [p for p in settings.retention if p.name == policy]
    if not chosen:
        known = ", ".join(p.name for p in settings.retention) or "none configured"
        raise InputError(f"no retention policy named {policy!r} (known: {known})", policy=policy)
    return chosen


def _policy_table(policies: Sequence[RetentionPolicy], group: str | None) -> dict[str, RetentionPolicy]:
    """Kind -> the policy that governs it at a location of `group` (group-specific policies first)."""
    table: dict[str, RetentionPolicy] = {}
    specific = [p for p in policies if p.endpoint_group is not None and p.endpoint_group == group]
    general = [p for p in policies if p.endpoint_group is None]
    for pol in [*specific, *general]:
        for kind in pol.kinds:
            table.setdefault(kind, pol)
    return table


def policy_for(table: Mapping[str, RetentionPolicy], art: Artifact) -> RetentionPolicy | None:
    """The policy governing one artifact: an agent-qualified kind (`codex:transcript`), then the agent's
    wildcard (`codex:*`), then the plain kind (which covers that kind of every agent)."""
    kind = art.kind.value
    return table.get(f"{art.app}:{kind}") or table.get(f"{art.app}:*") or table.get(kind)


def is_expired(policy: RetentionPolicy, reference_at: datetime, now: datetime) -> bool:
    """Whether `period_days` have passed since `reference_at` (for `end_of_year`: since the end of its year)."""
    if policy.trigger == "end_of_year":
        reference_at = datetime(reference_at.astimezone(UTC).year + 1, 1, 1, tzinfo=UTC)
    return reference_at + timedelta(days=policy.period_days) <= now


# -- reading ---------------------------------------------------------------------------------------------


def _sha256(connector: Connector, item: Item) -> str:
    digest = hashlib.sha256()
    with connector.open(item) as stream:
        for chunk in iter(lambda: stream.read(CHUNK_SIZE), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _ref(connector: Connector, artifact: Artifact, *, hashed: bool) -> FileRef:
    item = artifact.item
    sha = _sha256(connector, item) if hashed and artifact.fmt is not RecordFormat.NONE else None
    return FileRef(item.path, item.size, item.version, sha, None, artifact.kind.value, artifact.fmt.value)


def _mentions(connector: Connector, artifact: Artifact, matcher: Matcher) -> bool:
    if artifact.fmt is RecordFormat.NONE:
        return False
    with connector.open(artifact.item) as stream:
        return any(True for _ in matcher.scan(stream, artifact.fmt))


def _session_dirs(session_id: str, files: Iterable[Artifact], others: Sequence[Artifact]) -> list[str]:
    """Directories that belong to the session alone (first path component equal to the session id, its
    8-hex short form or a dispatch generation), kept only when no other artifact lives under them."""
    short = session_id.removeprefix("local_")[:8]
    dirs: set[str] = set()
    for art in files:
        parts = art.item.path.split("/")
        for index, part in enumerate(parts[:-1]):
            if part in (session_id, short) or part.startswith("local_ditto_"):
                dirs.add("/".join(parts[: index + 1]))
                break
    return sorted(d for d in dirs if not any(o.item.path.startswith(d + "/") for o in others))


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

    # -- the skips ---------------------------------------------------------------------------------------

    def _subject_hashes(
        self, connector: Connector, arts: Sequence[Artifact], owner: str | None, record: SessionRecord | None
    ) -> set[str]:
        found: set[str] = set()
        for probe in self.probes:
            if probe.matcher is None or self._concerns(connector, arts, probe.matcher, owner, record):
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
        self,
        connector: Connector,
        location: str,
        arts: Sequence[Artifact],
        dates: tuple[date, date] | None,
        owner: str | None,
        record: SessionRecord | None,
    ) -> str | None:
        hashes: set[str] | None = None
        for hold in self.holds:
            subjects: set[str] | None = None
            if hold.subjects:
                if {s.lower() for s in hold.subjects} - self.probe_universe:
                    subjects = None  # a subject we cannot recognise: the hold errs on keeping
                else:
                    if hashes is None:
                        hashes = self._subject_hashes(connector, arts, owner, record)
                    subjects = hashes
            for art in arts:
                if hold_covers(
                    hold, endpoint=location, path=art.item.path, session_dates=dates, subject_hashes=subjects
                ):
                    return hold.id
        return None

    def frozen_by(
        self, connector: Connector, arts: Sequence[Artifact], owner: str | None, record: SessionRecord | None
    ) -> str | None:
        for request_id in sorted(self.frozen):
            if self._concerns(connector, arts, self.frozen[request_id], owner, record):
                return request_id
        return None

    # -- one candidate -----------------------------------------------------------------------------------

    def candidate(
        self,
        connector: Connector,
        location: str,
        policy: RetentionPolicy,
        unit: str,
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
        hold_id = self.hold_for(connector, location, arts, dates, owner, record)
        frozen_by = None if hold_id else self.frozen_by(connector, arts, owner, record)
        status = PurgeStatus.RETAINED if hold_id else PurgeStatus.FROZEN if frozen_by else PurgeStatus.PURGE
        hashed = status is PurgeStatus.PURGE
        dirs: tuple[str, ...] = ()
        if unit == "session" and session_id and hashed:
            dirs = tuple(_session_dirs(session_id, arts, others))
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
        table = _policy_table(policies, endpoint.group)
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
            # No creation time outside sessions: the file's mtime stands in (memory notes: mtime, doc section 6).
            ref = {"last_activity": last, "end_of_year": last}.get(pol.trigger, mtime)
            if is_expired(pol, ref, self.now):
                out.append(
                    self.candidate(connector, endpoint.name, pol, "file", [art], ref, mtime, owner=endpoint.owner)
                )
        return out

    def expired_lines(
        self, connector: Connector, endpoint: EndpointSettings, pol: RetentionPolicy, art: Artifact
    ) -> PurgeCandidate | None:
        """A `redact` policy over a file of timestamped records: drop the records past the period (each by
        its own time); the whole file when every record is; records without a time are kept."""
        with connector.open(art.item) as stream:
            data = b"".join(iter(lambda: stream.read(CHUNK_SIZE), b""))
        field = _LINE_TIMES[art.kind]
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
        unit = "file" if len(expired) == total else "lines"
        cand = self.candidate(
            connector, endpoint.name, pol, unit, [art], max(stamps), min(stamps), owner=endpoint.owner
        )
        if unit == "file":
            return cand
        if cand.status is not PurgeStatus.PURGE:
            return dataclasses.replace(cand, lines=tuple(expired))
        ref = dataclasses.replace(cand.files[0], sha256=hashlib.sha256(data).hexdigest())
        after = hashlib.sha256(drop_lines(data, expired).data).hexdigest()
        return dataclasses.replace(cand, files=(ref,), lines=tuple(expired), sha256_after=after)

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
        pol = policy_for(table, anchor) if anchor is not None else None
        if anchor is not None and pol is not None and is_expired(pol, reference(pol, None), self.now):
            mine = {id(a) for a in sess.artifacts}
            others = [a for a in every if id(a) not in mine]
            return [
                self.candidate(
                    connector,
                    endpoint.name,
                    pol,
                    "session",
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
        out = []
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
                        "file",
                        [art],
                        ref,
                        created,
                        owner=endpoint.owner,
                        record=sess.record,
                        session_id=sess.session_id,
                    )
                )
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
                stream = connector.open_content(item) if isinstance(connector, S3Connector) else connector.open(item)
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
            ref = FileRef(
                key,
                current.size,
                current.version,
                _sha256(connector, current) if status is PurgeStatus.PURGE else None,
                None,
                S3_OBJECT_KIND,
                RecordFormat.BINARY.value,
                current.version_id,
            )
            out.append(
                PurgeCandidate(
                    location=name,
                    location_type="store",
                    policy=policy.name,
                    policy_version=policy.version,
                    unit="file",
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
    `_audit_timestamp`), file mtimes only as a last resort (endpoint-histories.md section 6); files outside
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
        store_policy = _policy_table(policies, None).get(S3_OBJECT_KIND)
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
    )


# -- execution -------------------------------------------------------------------------------------------

_DELETIONS = frozenset({LedgerAction.DELETE_SESSION, LedgerAction.DELETE_FILE, LedgerAction.DELETE_S3_VERSION})


class _PurgeLedger(Ledger):
    """The erasure executor's ledger, re-labelled for purges: no request id, action `purge` with the
    executor's operation in `details.operation`, and the retention policy's name and version."""

    def __init__(self, inner: Ledger, plan: PurgePlan) -> None:
        super().__init__(inner.store, signer=None, checkpoint_every=None)
        self._inner = inner
        self._policy = {(c.location, c.path): (c.policy, c.policy_version) for c in plan.candidates}

    def append(self, record: ProofRecord, *, idempotency_key: str | None = None) -> LedgerEntry:
        policy = self._policy.get((record.location or "", record.path or ""))
        details = dict(record.details)
        if policy is not None:
            details["policy"] = policy[0]
        action = record.action
        if action in _DELETIONS:
            details["operation"] = action.value
            action = LedgerAction.PURGE
        relabelled = dataclasses.replace(
            record,
            action=action,
            request_id=None,
            policy_version=f"retention:{policy[0]}@{policy[1]}" if policy else "retention",
            details=details,
        )
        return self._inner.append(relabelled, idempotency_key=idempotency_key)


def _no_subject_matcher() -> Matcher:
    """The executor wants a matcher for redactions; purge plans never redact, so a never-matching one."""
    return Matcher.from_identifiers(SubjectIdentifiers(user_ids=("dsr-retention-purge-has-no-subject",)))


def execute_purge(
    plan: PurgePlan,
    *,
    connectors: Callable[[str], Connector],
    ledger: Ledger,
    run_id: str,
    actor: str,
    kill_hook: KillHook | None = None,
) -> ExecutionReport:
    """Carry out a purge plan with the erasure executor: busy check per endpoint, compare-and-swap per file,
    crash-safe reruns, one ledger entry per deletion (action `purge`) and per kept item (`exception`).

    Expired records of `redact` policies are dropped here with the same rules (busy check, compare-and-swap
    on the planned hash, atomic replace, a rerun after a crash recognised by the planned result hash).

    Args:
        plan: the purge plan.
        connectors: opens the connector of a location name.
        ledger: the proof ledger.
        run_id: the flow run.
        actor: the acting identity.
        kill_hook: passed to the executor (tests simulate crashes with it).
    """
    erasure_plan = plan.to_erasure_plan()
    report = execute_plan(
        erasure_plan,
        connectors=connectors,
        matcher=_no_subject_matcher(),
        ledger=_PurgeLedger(ledger, plan),
        run_id=run_id,
        actor=actor,
        kill_hook=kill_hook,
    )
    dropped = _drop_expired_lines(plan, connectors, ledger, run_id, actor)
    return ExecutionReport(report.request_id, report.plan_digest, run_id, report.outcomes + tuple(dropped))


def _drop_key(cand: PurgeCandidate) -> str:
    body = json.dumps([cand.location, cand.path, cand.files[0].sha256, list(cand.lines)], separators=(",", ":"))
    return "retention:drop_lines:" + hashlib.sha256(body.encode("utf-8")).hexdigest()


def _outcome(cand: PurgeCandidate, status: ActionStatus, **fields: Any) -> ActionOutcome:
    return ActionOutcome(_to_action(cand).action_id, ActionKind.REDACT, cand.location, cand.path, status, **fields)


def _drop_one(connector: Connector, cand: PurgeCandidate, ledger: Ledger, run_id: str, actor: str) -> ActionOutcome:
    """Drop one file's expired records: compare-and-swap on the planned hash, atomic replace, one proof entry."""
    key = _drop_key(cand)
    done = ledger.store.find(key)
    if done is not None:
        return _outcome(cand, ActionStatus.ALREADY_DONE, ledger_seq=done.seq)
    ref = cand.files[0]
    details: dict[str, Any] = {"operation": "drop_lines", "policy": cand.policy, "lines": list(cand.lines)}
    tag = temp_tag(None, key)
    leftover = remove_own_temp_file(connector, cand.path, tag)
    if leftover is not None:
        ledger.append(
            ProofRecord(
                action=LedgerAction.REMOVE_TEMP,
                run_id=run_id,
                location=cand.location,
                path=proof_path(leftover.path),
                sha256_before=leftover.sha256,
                counts={"files_deleted": 1, "bytes": leftover.size},
                actor=actor,
                policy_version=f"retention:{cand.policy}@{cand.policy_version}",
                details={"for_path": proof_path(cand.path)},
            ),
            idempotency_key=f"{key}:remove_temp:{run_id}:{leftover.sha256}",
        )
    try:
        current = connector.stat(cand.path)
    except ItemNotFoundError:
        after, outcome = None, "already_absent"
    else:
        outcome = "done"
        with connector.open(current) as stream:
            data = b"".join(iter(lambda: stream.read(CHUNK_SIZE), b""))
        sha = hashlib.sha256(data).hexdigest()
        if sha == ref.sha256:
            new = drop_lines(data, cand.lines).data
            connector.replace(
                current, [new], Expected(current.size, current.version, sha), temp_name=temp_name(tag, cand.path)
            )
            after = hashlib.sha256(new).hexdigest()
        elif sha == cand.sha256_after:
            after = sha  # replaced by a run that died before its proof entry
            details["recovered"] = True
        else:
            raise VersionConflictError("file changed since the purge plan was made", path=cand.path)
    details.update(path_fields(cand.path))  # a hostile file name, escaped for the ledger
    record = ProofRecord(
        action=LedgerAction.PURGE,
        run_id=run_id,
        location=cand.location,
        path=proof_path(cand.path),
        sha256_before=ref.sha256,
        sha256_after=after,
        counts={"lines_removed": len(cand.lines)},
        outcome=outcome,
        actor=actor,
        policy_version=f"retention:{cand.policy}@{cand.policy_version}",
        details=details,
    )
    entry = ledger.append(record, idempotency_key=key)
    return _outcome(cand, ActionStatus.DONE, ledger_seq=entry.seq, counts={"lines_removed": len(cand.lines)})


def _drop_expired_lines(
    plan: PurgePlan, connectors: Callable[[str], Connector], ledger: Ledger, run_id: str, actor: str
) -> list[ActionOutcome]:
    by_location: dict[str, list[PurgeCandidate]] = defaultdict(list)
    for cand in plan.candidates:
        if _drops_lines(cand):
            by_location[cand.location].append(cand)
    outcomes: list[ActionOutcome] = []
    for location, cands in sorted(by_location.items()):
        try:
            connector = connectors(location)
        except ConnectorError as exc:
            outcomes.extend(_outcome(c, ActionStatus.FAILED, error=exc.status.value) for c in cands)
            continue
        with connector:
            try:
                busy = connector.activity().agent_running
            except ConnectorError as exc:
                outcomes.extend(_outcome(c, ActionStatus.FAILED, error=exc.status.value) for c in cands)
                continue
            for cand in cands:
                if busy:
                    # endpoint-histories.md section 5: never change a store while the app runs.
                    outcomes.append(_outcome(cand, ActionStatus.BUSY, error="busy"))
                    continue
                try:
                    outcomes.append(_drop_one(connector, cand, ledger, run_id, actor))
                except VersionConflictError:
                    outcomes.append(_outcome(cand, ActionStatus.CONFLICT, error="conflict"))
                except BusyError:
                    outcomes.append(_outcome(cand, ActionStatus.BUSY, error="busy"))
                except ConnectorError as exc:
                    outcomes.append(_outcome(cand, ActionStatus.FAILED, error=exc.status.value))
    return outcomes
