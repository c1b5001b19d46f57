"""Execute an approved erasure plan: compare-and-swap rewrites and deletions, one proof entry per action.

Owns crash safety (a rerun converges; the ledger's idempotency keys make every entry exactly-once) and
the busy/conflict outcomes. Never changes a store while its agent app runs, never re-signs audit logs,
never records or logs content: proof entries carry hashes, counts, line numbers and original MACs only.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import zstandard

from connectors.agents import agent_layout
from connectors.base import (
    CHUNK_SIZE,
    Connector,
    DeletionOutcome,
    Expected,
    Item,
    RetainedVersion,
    Skipped,
    VersionedStore,
    temp_name,
)
from connectors.encoding import TextEncoding, detect_encoding, from_utf8, to_utf8
from connectors.records import RecordFormat, decode_json
from connectors.sqlite_store import (
    DELETE_ROW,
    MAX_CELL_BYTES,
    ZSTD_LEVEL,
    DbRecord,
    erase_rows,
    erase_rows_via_copy,
    remove_side_files,
    side_files,
)
from detection.matcher import Matcher
from detection.redact import erase_subject
from erasure.plan import ActionKind, ErasurePlan, PlannedAction
from erasure.proof_path import path_fields, proof_path
from erasure.rewrite import (
    Rewrite,
    drop_lines,
    has_references,
    lines_clean,
    null_references,
    redact_lines,
    split_lines,
)
from models.errors import (
    ApprovalRequiredError,
    BusyError,
    ConnectorError,
    ItemNotFoundError,
    UnsupportedOperationError,
    VersionConflictError,
)
from proofs.entry import JSONValue
from proofs.ledger import Ledger, LedgerAction, ProofRecord

POLICY_VERSION = "erasure-1"
STEPS = (
    "before_activity",
    "before_cleanup",
    "before_read",
    "before_replace",
    "after_replace",
    "before_delete",
    "after_delete",
    "before_ledger",
    "after_ledger",
)
"""Every step `kill_hook` is called with, in the order they occur within an action."""

KillHook = Callable[[str], None]

_DELETIONS = frozenset({LedgerAction.DELETE_SESSION, LedgerAction.DELETE_FILE, LedgerAction.DELETE_S3_VERSION})


@dataclass(frozen=True)
class EntryLabel:
    """How the ledger entries of one action are labelled.

    Attributes:
        policy_version: the rule set the entry was made under (`erasure-1`, `retention:<policy>@<version>`).
        details: extra details written into each entry (ids and names only, never personal data).
    """

    policy_version: str
    details: Mapping[str, JSONValue] = field(default_factory=dict)


@dataclass(frozen=True)
class Mandate:
    """Who asked for a run, why, and how its ledger entries are labelled: the one interface through which
    erasure and retention share this executor.

    Attributes:
        asked_by: the acting identity recorded in every entry.
        why: the purpose (`erasure`, `retention`).
        request_id: the request the run serves; None when no request asked (a retention purge).
        label: the label of entries no action label names.
        action_labels: per planned action id, its own label.
        deletions_as: the ledger action deletions are recorded under (the executor's own operation then
            goes to `details.operation`); None records them as themselves.
    """

    asked_by: str
    why: str = "erasure"
    request_id: str | None = None
    label: EntryLabel = field(default_factory=lambda: EntryLabel(POLICY_VERSION))
    action_labels: Mapping[str, EntryLabel] = field(default_factory=dict)
    deletions_as: LedgerAction | None = None

    def record(self, action: LedgerAction, action_id: str | None, **fields: Any) -> ProofRecord:
        """A proof record of this mandate: its request, actor, label and deletion action."""
        label = self.action_labels.get(action_id or "", self.label)
        details: dict[str, JSONValue] = {**label.details, **fields.pop("details", {})}
        if self.deletions_as is not None and action in _DELETIONS:
            details["operation"] = action.value
            action = self.deletions_as
        return ProofRecord(
            action=action,
            request_id=self.request_id,
            actor=self.asked_by,
            policy_version=label.policy_version,
            details=details,
            **fields,
        )


class ActionStatus(StrEnum):
    """Outcome of one action in one run."""

    DONE = "done"  # done in this run (or found done after a crash) and recorded
    ALREADY_DONE = "already_done"  # the ledger already holds its entry
    RECORDED = "recorded"  # an exception was recorded in the ledger
    RETAINED = "retained"  # part of it is protected by Object Lock (recorded as exceptions)
    NOT_REACHED = "not_reached"  # the item could not be read or changed: recorded as a gap with its reason
    BUSY = "busy"  # the agent app runs: nothing touched, retry later
    CONFLICT = "conflict"  # the item changed since planning: nothing touched, re-plan and retry
    FAILED = "failed"  # the connector failed: see `error`


@dataclass(frozen=True)
class ActionOutcome:
    """What one planned action came to.

    Attributes:
        action_id: the planned action.
        kind: its kind.
        location: endpoint or store.
        path: file, key or session record path.
        status: the outcome.
        ledger_seq: the proof entry's sequence number, when recorded.
        counts: lines_redacted, files_deleted, versions_deleted, ...
        error: an error status code (no content) for busy/conflict/failed.
        retained: S3 versions kept by Object Lock (key, version id).
    """

    action_id: str
    kind: ActionKind
    location: str
    path: str | None
    status: ActionStatus
    ledger_seq: int | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    error: str | None = None
    retained: tuple[tuple[str, str], ...] = ()


_FINISHED = frozenset(
    {
        ActionStatus.DONE,
        ActionStatus.ALREADY_DONE,
        ActionStatus.RECORDED,
        ActionStatus.RETAINED,
        ActionStatus.NOT_REACHED,
    }
)


@dataclass(frozen=True)
class ExecutionReport:
    """One run of the executor over a plan.

    Attributes:
        request_id: the request.
        plan_digest: the digest of the executed plan.
        run_id: the run.
        outcomes: one per planned action, in plan order.
    """

    request_id: str
    plan_digest: str
    run_id: str
    outcomes: tuple[ActionOutcome, ...]

    @property
    def complete(self) -> bool:
        """Whether every action finished (done, recorded or retained)."""
        return all(o.status in _FINISHED for o in self.outcomes)

    @property
    def not_reached(self) -> tuple[ActionOutcome, ...]:
        """Items recorded as not reached (gaps: the request cannot be `completed` while one remains)."""
        return tuple(o for o in self.outcomes if o.kind is ActionKind.NOT_REACHED)

    @property
    def pending(self) -> tuple[ActionOutcome, ...]:
        """Actions to retry (busy, conflict, failed)."""
        return tuple(o for o in self.outcomes if o.status not in _FINISHED)

    @property
    def retained(self) -> tuple[tuple[str, str, str], ...]:
        """(location, key, version id) of every Object-Locked version found at execution."""
        return tuple((o.location, key, vid) for o in self.outcomes for key, vid in o.retained)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ids, statuses, counts, error codes and retained versions (no content)."""
        return {
            "request_id": self.request_id,
            "plan_digest": self.plan_digest,
            "run_id": self.run_id,
            "complete": self.complete,
            "outcomes": [
                {
                    "action_id": o.action_id,
                    "kind": o.kind.value,
                    "location": o.location,
                    "path": o.path,
                    "status": o.status.value,
                    "ledger_seq": o.ledger_seq,
                    "counts": dict(o.counts),
                    "error": o.error,
                    "retained": [list(r) for r in o.retained],
                }
                for o in self.outcomes
            ],
        }

    def summary(self) -> list[dict[str, Any]]:
        """Counts per location and status (for the flow's table artifact)."""
        rows: dict[tuple[str, str], int] = {}
        for outcome in self.outcomes:
            rows[(outcome.location, outcome.status.value)] = rows.get((outcome.location, outcome.status.value), 0) + 1
        return [{"location": loc, "status": status, "count": n} for (loc, status), n in sorted(rows.items())]


def idempotency_key(
    request_id: str, action: str, location: str, path: str | None, version_id: str | None, sha256_before: str | None
) -> str:
    """The stable ledger key of one action: the same action of the same request always gets the same key."""
    body = json.dumps([request_id, action, location, path, version_id, sha256_before], separators=(",", ":"))
    return "erasure:" + hashlib.sha256(body.encode("utf-8")).hexdigest()


def _decompress(data: bytes) -> bytes:
    try:
        return zstandard.ZstdDecompressor().decompress(data, max_output_size=MAX_CELL_BYTES)
    except zstandard.ZstdError as exc:
        raise UnsupportedOperationError("compressed file is corrupt", code="corrupt_compressed_file") from exc


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read(connector: Connector, item: Item) -> bytes:
    with connector.open(item) as stream:
        return b"".join(iter(lambda: stream.read(CHUNK_SIZE), b""))


def _session_digest(files: Sequence[Item]) -> str:
    body = json.dumps(sorted([f.path, f.sha256, f.size] for f in files), separators=(",", ":"))
    return _sha(body.encode("utf-8"))


def _redact_details(
    action: PlannedAction, kind: str, data: bytes, encoding: TextEncoding | None
) -> dict[str, JSONValue]:
    """The ledger details of a line redaction, before it is done."""
    details: dict[str, JSONValue] = {"lines": list(action.lines)}
    if encoding is not None:
        details["encoding"] = encoding.name
    if action.session_id:
        details["session_id"] = action.session_id
    if kind == "audit_log":
        # Audit logs are redacted in place, never re-signed; the break is documented.
        details["audit_break"] = True
        details["original_macs"] = list(_audit_macs(data, action.lines))
    return details


def _after_drops(lines: Iterable[int], drops: Sequence[int]) -> list[int]:
    """Where the named lines sit once the lines `drops` have been removed."""
    removed = sorted(drops)
    return [n - sum(1 for d in removed if d < n) for n in lines if n not in removed]


def _audit_macs(data: bytes, lines: Iterable[int]) -> list[str]:
    """The `_audit_hmac` values of the named lines (hex), in line order; lines without one are skipped."""
    parts = split_lines(data)
    macs: list[str] = []
    for number in sorted(lines):
        if not 1 <= number <= len(parts):
            continue
        try:
            value = decode_json(parts[number - 1])
        except ValueError:
            continue
        mac = value.get("_audit_hmac") if isinstance(value, dict) else None
        if isinstance(mac, str) and len(mac) <= 128 and mac.isalnum():
            macs.append(mac)
    return macs


def temp_tag(request_id: str | None, plan_digest: str) -> str:
    """The tag from which the temporary file names of one plan's replaces are derived (`temp_name`).

    Stable across reruns of the same plan (a rerun finds what a killed run left) and unknown on the laptop.
    """
    return _sha(f"dsr-temp\0{request_id or ''}\0{plan_digest}".encode())


@dataclass(frozen=True)
class TempRemoval:
    """A temporary file of ours, left by a killed run beside `for_path`, that cleanup removed."""

    path: str
    for_path: str
    size: int
    sha256: str


def remove_own_temp_file(connector: Connector, path: str, tag: str) -> TempRemoval | None:
    """Remove the one temporary file a replace of `path` under `tag` may have left (a killed run's leftover).

    Only that derived name is looked at: nothing is listed, so no other file is touched whatever its name.
    It is removed only when it is a regular file (a link or special file of that name is left alone, never
    followed) and is still what was read when removed. Never raises a connector error: a leftover that
    cannot be checked or removed stays, and the replace that needs the name then reports a conflict.
    """
    directory = path.rsplit("/", 1)[0]
    leftover = f"{directory}/{temp_name(tag, path)}"
    try:
        item = connector.stat(leftover)
        sha = _sha(_read(connector, item))
        removed = connector.delete(item, Expected(item.size, item.version, sha))
    except ConnectorError:
        return None
    return TempRemoval(leftover, path, item.size, sha) if removed else None


class _Run:
    """State of one run: the plan, the connectors, the ledger and the kill hook."""

    def __init__(
        self,
        plan: ErasurePlan,
        connectors: Callable[[str], Connector],
        matcher: Matcher | None,
        ledger: Ledger,
        run_id: str,
        mandate: Mandate,
        kill_hook: KillHook | None,
    ) -> None:
        self.plan = plan
        self.connectors = connectors
        self._matcher = matcher
        self.ledger = ledger
        self.run_id = run_id
        self.mandate = mandate
        self.hook = kill_hook or (lambda _step: None)
        self.temp_tag = temp_tag(plan.request_id, plan.digest)

    @property
    def matcher(self) -> Matcher:
        """The subject's matcher; a run without a subject (a purge) cannot redact."""
        if self._matcher is None:
            raise UnsupportedOperationError("a run without a subject cannot redact", code="no_subject")
        return self._matcher

    # -- ledger ----------------------------------------------------------------------------------------

    def record(self, key: str, record: ProofRecord) -> int:
        self.hook("before_ledger")
        entry = self.ledger.append(record, idempotency_key=key)
        self.hook("after_ledger")
        return entry.seq

    def proof(self, action: LedgerAction, planned: PlannedAction, **fields: Any) -> ProofRecord:
        path = proof_path(planned.path)
        details = dict(fields.get("details", {}))
        # A hostile file name (line break, not UTF-8, huge): escaped for the ledger, identified by its bytes.
        details.update(path_fields(planned.path))
        session_id = details.get("session_id")
        if isinstance(session_id, str):
            details["session_id"] = proof_path(session_id)  # session ids of transcripts come from file names
        fields["details"] = details
        return self.mandate.record(
            action, planned.action_id, run_id=self.run_id, location=planned.location, path=path, **fields
        )

    def done_before(self, key: str) -> int | None:
        entry = self.ledger.store.find(key)
        return entry.seq if entry is not None else None

    # -- exceptions --------------------------------------------------------------------------------------

    def exception(self, action: PlannedAction) -> ActionOutcome:
        vid = action.version_ids[0] if action.version_ids else None
        what = f"exception:{action.ground}:{action.reason}:{action.hold_id or ''}"
        key = idempotency_key(self.plan.request_id, what, action.location, action.path, vid, None)
        details: dict[str, JSONValue] = {"reason": action.reason}
        if action.lines:
            details["lines"] = list(action.lines)
        if action.hold_id:
            details["hold_id"] = action.hold_id
        if action.session_id:
            details["session_id"] = action.session_id
        seq = self.done_before(key)
        if seq is not None:
            return self.outcome(action, ActionStatus.ALREADY_DONE, seq)
        record = self.proof(
            LedgerAction.EXCEPTION,
            action,
            version_id=vid,
            exception_ground=action.ground,
            outcome="kept",
            details=details,
        )
        return self.outcome(action, ActionStatus.RECORDED, self.record(key, record))

    def not_reached(self, action: PlannedAction) -> ActionOutcome:
        """Record an item the scan could not read or change: a `skip` entry with outcome `not_reached` and its
        reason, no exception ground (it is a gap, not a kept record)."""
        vid = action.version_ids[0] if action.version_ids else None
        what = f"not_reached:{action.reason}"
        key = idempotency_key(self.plan.request_id, what, action.location, action.path, vid, None)
        seq = self.done_before(key)
        if seq is not None:
            return self.outcome(action, ActionStatus.NOT_REACHED, seq)
        details: dict[str, JSONValue] = {"reason": action.reason}
        if action.lines:
            details["lines"] = list(action.lines)
        record = self.proof(LedgerAction.SKIP, action, version_id=vid, outcome="not_reached", details=details)
        return self.outcome(action, ActionStatus.NOT_REACHED, self.record(key, record))

    def retained_versions(self, action: PlannedAction, retained: Sequence[RetainedVersion]) -> None:
        for version in retained:
            key = idempotency_key(
                self.plan.request_id, "exception:object_lock", action.location, version.key, version.version_id, None
            )
            details: dict[str, JSONValue] = {"legal_hold": version.legal_hold}
            details.update(path_fields(version.key))
            if version.mode:
                details["lock_mode"] = version.mode
            if version.retain_until:
                details["retain_until"] = version.retain_until.isoformat()
            record = self.mandate.record(
                LedgerAction.EXCEPTION,
                action.action_id,
                run_id=self.run_id,
                location=action.location,
                path=proof_path(version.key),
                version_id=version.version_id,
                exception_ground="object_lock",
                outcome="kept",
                details=details,
            )
            self.record(key, record)

    @staticmethod
    def outcome(
        action: PlannedAction,
        status: ActionStatus,
        seq: int | None = None,
        counts: Mapping[str, int] | None = None,
        error: str | None = None,
        retained: tuple[tuple[str, str], ...] = (),
    ) -> ActionOutcome:
        return ActionOutcome(
            action.action_id,
            action.kind,
            action.location,
            action.path,
            status,
            seq,
            dict(counts or {}),
            error,
            retained,
        )

    # -- endpoints ---------------------------------------------------------------------------------------

    def redact(self, connector: Connector, action: PlannedAction) -> ActionOutcome:
        target = action.target
        assert target is not None  # noqa: S101 -- plan invariant: redact actions always carry their target
        key = idempotency_key(self.plan.request_id, action.kind, action.location, target.path, None, target.sha256)
        seq = self.done_before(key)
        if seq is not None:
            return self.outcome(action, ActionStatus.ALREADY_DONE, seq)
        self.hook("before_read")
        try:
            current = connector.stat(target.path)
        except ItemNotFoundError:
            record = self.proof(
                LedgerAction.REDACT_LINES, action, sha256_before=target.sha256, outcome="already_absent"
            )
            return self.outcome(action, ActionStatus.DONE, self.record(key, record))
        if target.fmt == RecordFormat.SQLITE.value:
            return self.redact_database(connector, action, current, key)
        raw = _read(connector, current)
        sha = _sha(raw)
        # zstd JSONL is decompressed, redacted and recompressed; UTF-16/32 files are redacted as UTF-8 text
        # and written back in their own encoding (same lines either way).
        compressed = target.fmt == RecordFormat.JSONL_ZSTD.value
        plain = _decompress(raw) if compressed else raw
        encoding = detect_encoding(plain[:4])
        data = plain if encoding is None else to_utf8(plain, encoding)
        fmt = RecordFormat.JSONL.value if compressed else target.fmt
        details = _redact_details(action, target.kind, data, encoding)
        if sha == target.sha256:
            after, counts = self.rewrite_lines(connector, action, current, (raw, sha), data, encoding, fmt, details)
        elif (
            target.lines is not None
            and len(split_lines(data)) == target.lines - len(action.drop_lines)
            and lines_clean(data, moved := _after_drops(action.lines, action.drop_lines), self.matcher)
            and not has_references(data, moved, action.session_ids)
        ):
            # Replaced by a run that died before its proof entry: the rewrite is deterministic, so this is it.
            after = sha
            counts = {"lines_redacted": len(action.lines)}
            details["recovered"] = True
            if action.drop_lines:
                details["lines_removed"] = list(action.drop_lines)
        else:
            raise VersionConflictError("file changed since the erasure plan was made", path=target.path)
        if action.drop_lines:
            counts["lines_removed"] = len(action.drop_lines)
        return self.redacted(key, action, target.sha256, after, counts, details)

    def redacted(
        self,
        key: str,
        action: PlannedAction,
        before: str | None,
        after: str,
        counts: dict[str, int],
        details: dict[str, Any],
    ) -> ActionOutcome:
        """The proof entry of an in-place redaction (its fingerprints before and after) and the action's outcome."""
        record = self.proof(
            LedgerAction.REDACT_LINES, action, sha256_before=before, sha256_after=after, counts=counts, details=details
        )
        return self.outcome(action, ActionStatus.DONE, self.record(key, record), counts)

    def rewrite_lines(
        self,
        connector: Connector,
        action: PlannedAction,
        current: Item,
        read: tuple[bytes, str],
        data: bytes,
        encoding: TextEncoding | None,
        fmt: str,
        details: dict[str, JSONValue],
    ) -> tuple[str, dict[str, int]]:
        """Redact the planned lines of a file still as planned and replace it (compare-and-swap); returns the
        new content's digest and the counts. `read` is the file as read and its digest, `data` the same as
        UTF-8, decompressed, `fmt` its record format."""
        raw, sha = read
        target = action.target
        assert target is not None  # noqa: S101 -- plan invariant: redact actions always carry their target
        rewrite = redact_lines(data, action.lines, fmt, self.matcher)
        if action.session_ids:
            refs = null_references(rewrite.data, action.lines, action.session_ids)
            rewrite = Rewrite(refs.data, rewrite.lines_changed, rewrite.replacements)
            details["references_removed"] = refs.replacements
        if action.drop_lines:
            # Prompts of deleted sessions (history.jsonl): removed after redaction of the other lines.
            dropped = drop_lines(rewrite.data, action.drop_lines)
            rewrite = Rewrite(dropped.data, rewrite.lines_changed, rewrite.replacements)
            details["lines_removed"] = list(action.drop_lines)
        new = rewrite.data if encoding is None else from_utf8(rewrite.data, encoding)
        if target.fmt == RecordFormat.JSONL_ZSTD.value:
            new = zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(new)
        self.hook("before_replace")
        if new != raw:
            connector.replace(
                current,
                [new],
                Expected(current.size, current.version, sha),
                temp_name=temp_name(self.temp_tag, target.path),
            )
        self.hook("after_replace")
        return _sha(new), {"lines_redacted": rewrite.lines_changed, "replacements": rewrite.replacements}

    def redact_database(self, connector: Connector, action: PlannedAction, current: Item, key: str) -> ActionOutcome:
        """Redact the planned rows of a database in place (method C: app closed, one transaction,
        secure_delete, FTS rebuilt, WAL checkpointed, VACUUM). On a local disk SQLite changes the file itself;
        over SSH the same change is made on a private copy (with the WAL) and written back by compare-and-swap
        and atomic replace (`connectors.sqlite_store.erase_rows_via_copy`), the agent and the action's app
        checked again just before every write to the laptop."""
        target = action.target
        assert target is not None  # noqa: S101 -- plan invariant: redact actions always carry their target
        layout = agent_layout(action.app) if action.app else None
        edit = self._row_edit(set(action.records), layout.blob_records if layout else ())
        local_path = getattr(connector, "database_path", None)
        details: dict[str, JSONValue] = {"records": list(action.records)}
        self.hook("before_replace")
        if callable(local_path):
            path = local_path(current)
            if _sha(_read(connector, current)) != target.sha256:
                raise VersionConflictError("database changed since the erasure plan was made", path=target.path)
            result = erase_rows(Path(path), edit)
            self.hook("after_replace")
            after = _sha(_read(connector, connector.stat(target.path)))
        else:
            assert target.sha256 is not None  # noqa: S101 -- plan invariant: a redacted file has its digest
            copied = erase_rows_via_copy(
                connector,
                current,
                edit,
                expected_sha256=target.sha256,
                temp_name=temp_name(self.temp_tag, target.path),
                is_busy=lambda: self.is_busy(connector) or self.app_busy(connector, action),
            )
            self.hook("after_replace")
            result, after = copied.result, copied.sha256_after
            details["written_back"] = "copy"
            details["sidecars_removed"] = len(copied.sidecars_removed)
        details.update({"fts_rebuilt": list(result.fts_rebuilt), "vacuumed": True, "wal_empty": result.wal_empty})
        if action.app:
            details["app"] = action.app
        counts = {"records_redacted": result.rows_changed}
        return self.redacted(key, action, target.sha256, after, counts, details)

    def _row_edit(
        self, wanted: set[str], blob_records: Sequence[str] = ()
    ) -> Callable[[DbRecord], dict[str, object] | None]:
        """The edit of `erase_rows`: the subject erased from every cell of the planned rows; a planned row that
        is a content-addressed blob (`blob_records`) is deleted instead."""

        def edit(record: DbRecord) -> dict[str, object] | None:
            if record.record not in wanted:
                return None
            if any(re.fullmatch(pattern, record.record, re.DOTALL) for pattern in blob_records):
                return DELETE_ROW
            updates: dict[str, object] = {}
            for column, cell in record.cells.items():
                if cell.value is None:
                    continue
                erased, count = erase_subject(cell.value, self.matcher)
                if count:
                    updates[column] = erased
            return updates

        return edit

    def _unchanged(self, connector: Connector, ref: Item) -> Item | None:
        """The current item if it is still what was planned; None if gone; conflict if it changed."""
        try:
            current = connector.stat(ref.path)
        except ItemNotFoundError:
            return None
        if current.size == ref.size and current.version == ref.version:
            return current
        if ref.sha256 is not None and current.size == ref.size and _sha(_read(connector, current)) == ref.sha256:
            return current
        raise VersionConflictError("file changed since the erasure plan was made", path=ref.path)

    def delete_file(self, connector: Connector, action: PlannedAction) -> ActionOutcome:
        target = action.target
        assert target is not None  # noqa: S101 -- plan invariant: delete_file actions always carry their target
        key = idempotency_key(self.plan.request_id, action.kind, action.location, target.path, None, target.sha256)
        seq = self.done_before(key)
        if seq is not None:
            return self.outcome(action, ActionStatus.ALREADY_DONE, seq)
        self.hook("before_read")
        current = self._unchanged(connector, target)
        self.hook("before_delete")
        if current is not None:
            connector.delete(current, Expected(current.size, current.version, target.sha256))
        sidecars = self.remove_side_files(connector, action, target) if target.fmt == RecordFormat.SQLITE.value else 0
        self.hook("after_delete")
        counts = {"files_deleted": 1}
        details: dict[str, JSONValue] = {"sidecars_removed": sidecars} if sidecars else {}
        record = self.proof(
            LedgerAction.DELETE_FILE, action, sha256_before=target.sha256, counts=counts, details=details
        )
        return self.outcome(action, ActionStatus.DONE, self.record(key, record), counts)

    def remove_side_files(self, connector: Connector, action: PlannedAction, database: Item) -> int:
        """Remove a deleted database's `-wal`, `-shm` and `-journal` (they hold its content), the agent and the
        action's app checked again before each (`BusyError`: the rest waits; a rerun finds the database gone
        and finishes). Returns how many were removed."""
        found = side_files(connector, database.path)

        def busy() -> bool:
            return self.is_busy(connector) or self.app_busy(connector, action)

        return len(remove_side_files(connector, found.values(), is_busy=busy))

    def delete_session(self, connector: Connector, action: PlannedAction) -> ActionOutcome:
        digest = _session_digest(action.files)
        key = idempotency_key(self.plan.request_id, action.kind, action.location, action.path, None, digest)
        seq = self.done_before(key)
        if seq is not None:
            return self.outcome(action, ActionStatus.ALREADY_DONE, seq)
        self.hook("before_read")
        present = [(ref, item) for ref in action.files if (item := self._unchanged(connector, ref)) is not None]
        self.hook("before_delete")
        for ref, item in present:
            connector.delete(item, Expected(item.size, item.version, ref.sha256))
        databases = [ref for ref in action.files if ref.fmt == RecordFormat.SQLITE.value]
        sidecars = sum(self.remove_side_files(connector, action, ref) for ref in databases)  # also on a rerun
        for directory in action.dirs:
            connector.delete_tree(directory)
        self.hook("after_delete")
        counts = {"files_deleted": len(action.files), "directories_removed": len(action.dirs)}
        details: dict[str, JSONValue] = {"session_id": action.session_id, "files_sha256": digest}
        if sidecars:
            details["sidecars_removed"] = sidecars
        record = self.proof(LedgerAction.DELETE_SESSION, action, counts=counts, details=details)
        return self.outcome(action, ActionStatus.DONE, self.record(key, record), counts)

    # -- S3 ------------------------------------------------------------------------------------------------

    @staticmethod
    def _s3(connector: Connector) -> VersionedStore:
        if not isinstance(connector, VersionedStore):
            raise UnsupportedOperationError("S3 action on a location that is not an S3 store")
        return connector

    def _finish_versions(
        self,
        action: PlannedAction,
        key: str,
        outcome: DeletionOutcome,
        extra: Mapping[str, int],
        details: dict[str, JSONValue],
        *,
        before: str | None,
        after: str | None,
        ledger_action: LedgerAction,
    ) -> ActionOutcome:
        self.retained_versions(action, outcome.retained)
        retained = tuple((v.key, v.version_id) for v in outcome.retained)
        kept = {v for _, v in retained}
        counts = {**extra, "versions_deleted": len([v for v in action.version_ids if v not in kept])}
        details["version_ids"] = [v for v in action.version_ids if v not in kept]
        record = self.proof(
            ledger_action,
            action,
            sha256_before=before,
            sha256_after=after,
            counts=counts,
            details=details,
        )
        status = ActionStatus.RETAINED if retained else ActionStatus.DONE
        return self.outcome(action, status, self.record(key, record), counts, retained=retained)

    def s3_delete_versions(self, connector: Connector, action: PlannedAction) -> ActionOutcome:
        s3 = self._s3(connector)
        key = idempotency_key(
            self.plan.request_id, action.kind, action.location, action.path, ",".join(action.version_ids), None
        )
        seq = self.done_before(key)
        if seq is not None:
            return self.outcome(action, ActionStatus.ALREADY_DONE, seq)
        assert action.path is not None  # noqa: S101 -- plan invariant: S3 actions name their key
        self.hook("before_delete")
        outcome = s3.delete_versions(action.path, action.version_ids)
        self.hook("after_delete")
        return self._finish_versions(
            action, key, outcome, {}, {}, before=None, after=None, ledger_action=LedgerAction.DELETE_S3_VERSION
        )

    def s3_erase_object(self, connector: Connector, action: PlannedAction) -> ActionOutcome:
        s3 = self._s3(connector)
        target = action.target
        assert target is not None and action.path is not None  # noqa: S101 -- plan invariant
        key = idempotency_key(
            self.plan.request_id, action.kind, action.location, target.path, target.version_id, target.sha256
        )
        seq = self.done_before(key)
        if seq is not None:
            return self.outcome(action, ActionStatus.ALREADY_DONE, seq)
        self.hook("before_read")
        try:
            current = s3.stat(action.path)
        except ItemNotFoundError:
            current = None
        # A current version that is neither the planned one nor one of the planned (older) versions was
        # written after planning: refuse. (A partial earlier run may have promoted an older planned version.)
        if current is not None and current.version != target.version and current.version_id not in action.version_ids:
            raise VersionConflictError("object changed since the erasure plan was made", path=action.path)
        self.hook("before_delete")
        if target.version_id is None:
            outcome = s3.erase_object(action.path)
        else:
            markers = [e.target for e in s3.iter_versions(action.path) if isinstance(e, Skipped) and e.target]
            outcome = s3.delete_versions(action.path, [*action.version_ids, *markers])
        self.hook("after_delete")
        return self._finish_versions(
            action, key, outcome, {}, {}, before=target.sha256, after=None, ledger_action=LedgerAction.DELETE_S3_VERSION
        )

    def _rewrite(self, data: bytes, action: PlannedAction, fmt: str) -> Rewrite:
        if fmt in ("jsonl", "text", "markdown"):
            return drop_lines(data, action.lines)  # the object without the subject's records
        return redact_lines(data, action.lines, "json", self.matcher)

    def _content(self, s3: VersionedStore, item: Item) -> bytes:
        with s3.open_content(item) as stream:
            return b"".join(iter(lambda: stream.read(CHUNK_SIZE), b""))

    def _clean(self, data: bytes) -> bool:
        return lines_clean(data, range(1, len(split_lines(data)) + 1), self.matcher)

    def s3_rewrite(self, connector: Connector, action: PlannedAction) -> ActionOutcome:
        s3 = self._s3(connector)
        target = action.target
        assert target is not None and action.path is not None  # noqa: S101 -- plan invariant
        key = idempotency_key(
            self.plan.request_id, action.kind, action.location, target.path, target.version_id, target.sha256
        )
        seq = self.done_before(key)
        if seq is not None:
            return self.outcome(action, ActionStatus.ALREADY_DONE, seq)
        self.hook("before_read")
        current = s3.stat(action.path)
        details: dict[str, JSONValue] = {"lines_removed": list(action.lines)}
        if current.version == target.version:
            data = self._content(s3, current)
            if _sha(data) != target.sha256:
                raise VersionConflictError("object changed since the erasure plan was made", path=action.path)
            rewrite = self._rewrite(data, action, target.fmt)
            self.hook("before_replace")
            new_item = s3.replace_content(current, [rewrite.data], Expected(current.size, current.version))
            self.hook("after_replace")
            after = _sha(rewrite.data)
            details["new_version_id"] = new_item.version_id
        else:
            # Rewritten by a run that died before its proof entry? The planned version (immutable) must
            # rewrite to exactly the current content, or (if it is already deleted) the current must be clean.
            planned = replace(target, location=s3.name, is_latest=False)
            expected: bytes | None = None
            if target.version_id is not None:  # on an unversioned bucket the planned bytes are gone
                try:
                    expected = self._rewrite(self._content(s3, planned), action, target.fmt).data
                except ItemNotFoundError:
                    expected = None
            data = self._content(s3, current)
            if (expected is not None and data != expected) or (expected is None and not self._clean(data)):
                raise VersionConflictError("object changed since the erasure plan was made", path=action.path)
            after = _sha(data)
            details["new_version_id"] = current.version_id
            details["recovered"] = True
        self.hook("before_delete")
        outcome = (
            s3.delete_versions(action.path, action.version_ids) if action.version_ids else DeletionOutcome(action.path)
        )
        self.hook("after_delete")
        return self._finish_versions(
            action,
            key,
            outcome,
            {"lines_removed": len(action.lines)},
            details,
            before=target.sha256,
            after=after,
            ledger_action=LedgerAction.REDACT_LINES,
        )

    # -- per location ----------------------------------------------------------------------------------

    def cleanup_temp_files(self, connector: Connector, actions: Sequence[PlannedAction]) -> None:
        """Remove the temporary files a killed earlier run of this plan left beside the files it rewrites.

        Only the names derived for this plan's own redaction targets are removed (see
        `remove_own_temp_file`); each removal is a ledger entry. Nothing here fails the location.
        """
        self.hook("before_cleanup")
        for action in actions:
            target = action.target
            if action.kind is not ActionKind.REDACT or target is None:
                continue
            removal = remove_own_temp_file(connector, target.path, self.temp_tag)
            if removal is not None:
                self.record_temp_removal(action.location, removal)

    def record_temp_removal(self, location: str, removal: TempRemoval) -> int:
        """The ledger entry of one removed leftover (`remove_temp`): where, its hash, the file it stood for."""
        details: dict[str, JSONValue] = {"for_path": proof_path(removal.for_path)}
        details.update(path_fields(removal.path))
        record = self.mandate.record(
            LedgerAction.REMOVE_TEMP,
            None,
            run_id=self.run_id,
            location=location,
            path=proof_path(removal.path),
            sha256_before=removal.sha256,
            counts={"files_deleted": 1, "bytes": removal.size},
            details=details,
        )
        key = idempotency_key(self.plan.request_id, "remove_temp", location, removal.path, self.run_id, removal.sha256)
        return self.record(key, record)

    def location(self, name: str, actions: Sequence[PlannedAction]) -> list[ActionOutcome]:
        try:
            connector = self.connectors(name)
        except ConnectorError as exc:
            return [self.outcome(a, ActionStatus.FAILED, error=exc.status.value) for a in actions]
        with connector:
            self.hook("before_activity")
            try:
                busy = connector.activity().agent_running
            except ConnectorError as exc:
                return [self.outcome(a, ActionStatus.FAILED, error=exc.status.value) for a in actions]
            if busy:
                # Never change a store while the agent app runs (docs/histories.md); retry later.
                return [self.outcome(a, ActionStatus.BUSY, error="busy") for a in actions]
            self.cleanup_temp_files(connector, actions)
            outcomes: list[ActionOutcome] = []
            for index, action in enumerate(actions):
                if index and self.is_busy(connector):
                    # The app started during the run: stop here, the rest waits for the next run.
                    outcomes.extend(self.outcome(a, ActionStatus.BUSY, error="busy") for a in actions[index:])
                    break
                if self.app_busy(connector, action):
                    # That agent's app runs (it caches its store or holds it open): its files wait.
                    outcomes.append(self.outcome(action, ActionStatus.BUSY, error="busy"))
                    continue
                outcomes.append(self.one(connector, action))
            return outcomes

    def is_busy(self, connector: Connector) -> bool:
        """Re-check activity between actions (an unreachable check counts as busy: nothing more is changed)."""
        try:
            return connector.activity().agent_running
        except ConnectorError:
            return True

    def app_busy(self, connector: Connector, action: PlannedAction) -> bool:
        """Whether the app of the agent whose store the action changes is running (its declared processes)."""
        layout = agent_layout(action.app) if action.app else None
        if layout is None or not layout.processes or action.kind in (ActionKind.EXCEPTION, ActionKind.NOT_REACHED):
            return False
        try:
            evidence = connector.activity().evidence
        except ConnectorError:
            return True
        names = {e.split(":", 1)[1] for e in evidence if e.startswith("app_process:")}
        return bool(names & set(layout.processes))

    def one(self, connector: Connector, action: PlannedAction) -> ActionOutcome:
        handlers: dict[ActionKind, Callable[[Connector, PlannedAction], ActionOutcome]] = {
            ActionKind.REDACT: self.redact,
            ActionKind.DELETE_FILE: self.delete_file,
            ActionKind.DELETE_SESSION: self.delete_session,
            ActionKind.S3_DELETE_VERSIONS: self.s3_delete_versions,
            ActionKind.S3_ERASE_OBJECT: self.s3_erase_object,
            ActionKind.S3_REWRITE: self.s3_rewrite,
        }
        try:
            return handlers[action.kind](connector, action)
        except VersionConflictError:
            return self.outcome(action, ActionStatus.CONFLICT, error="conflict")
        except BusyError:
            return self.outcome(action, ActionStatus.BUSY, error="busy")
        except UnsupportedOperationError as exc:
            return self.outcome(action, ActionStatus.FAILED, error=str(exc.fields.get("code", "unsupported")))
        except ConnectorError as exc:
            return self.outcome(action, ActionStatus.FAILED, error=exc.status.value)


def execute_plan(
    plan: ErasurePlan,
    *,
    connectors: Callable[[str], Connector],
    matcher: Matcher | None,
    ledger: Ledger,
    run_id: str,
    actor: str | None = None,
    mandate: Mandate | None = None,
    kill_hook: KillHook | None = None,
    approved_digest: str | None = None,
) -> ExecutionReport:
    """Carry out an (approved) plan, location by location, and record one proof entry per completed action.

    Per location: `activity()` first and again before every further action (busy: nothing more is
    touched, retry later), leftover temp files of a killed run removed, then each action with
    compare-and-swap against the plan (changed since planning: `conflict`, nothing touched, re-plan).
    Exceptions are recorded as ledger entries, never acted on; so are items not reached (a `skip` entry with
    outcome `not_reached` and the reason), which are gaps, never exceptions.
    Safe to rerun after a crash at any point: an action whose entry is in the ledger is skipped; one whose
    effect is visible (file rewritten to the deterministic result, or gone) is recognised and recorded once.

    Recovery rules (what a rerun accepts as "already done" when the ledger has no entry yet):
    - redact: the file has the planned line count (minus dropped history lines) and none of the planned
      lines names the subject or a deleted session any more;
    - delete file / session: every planned file is gone or still exactly as planned (then deleted now);
    - S3 rewrite: the current object equals the deterministic rewrite of the planned version (or, once that
      version is deleted or on an unversioned bucket, holds no identifier); then the old versions go;
    - S3 erase / version deletion: versions already gone count as deleted (`missing`).
    Anything else is a conflict (nothing touched; re-plan). Temporary files a killed run of this plan left
    beside its redaction targets are removed first, each with a ledger entry; no other file is looked at.

    Args:
        plan: the approved plan.
        connectors: opens the connector of a location name (the executor closes it).
        matcher: the subject's matcher (redaction); None for a run without a subject (its redactions fail).
        ledger: the proof ledger.
        run_id: the flow or CLI run.
        actor: the acting identity of an erasure of `plan.request_id` (when no `mandate` is given).
        mandate: who asked, why and how entries are labelled (retention purges); default: the erasure of
            the plan's request by `actor`.
        kill_hook: called with each step name of `STEPS` (tests raise from it to simulate a crash).
        approved_digest: the digest the approval named; when given, a different plan is refused before
            anything is touched.

    Returns:
        Outcomes per action; `complete` when nothing is left to retry.

    Raises:
        ApprovalRequiredError: `approved_digest` is given and is not this plan's digest.
        LedgerError: the ledger cannot be written (the run stops; a rerun resumes).
    """
    if approved_digest is not None and approved_digest != plan.digest:
        raise ApprovalRequiredError(
            f"erasure plan {plan.digest} of request {plan.request_id} is not the approved plan {approved_digest}",
            request_id=plan.request_id,
        )
    if mandate is None:
        if actor is None:
            raise TypeError("execute_plan needs an actor or a mandate")
        mandate = Mandate(asked_by=actor, request_id=plan.request_id)
    run = _Run(plan, connectors, matcher, ledger, run_id, mandate, kill_hook)
    by_location: dict[str, list[PlannedAction]] = {}
    outcomes: dict[str, ActionOutcome] = {}
    for action in plan.actions:
        if action.kind is ActionKind.EXCEPTION:
            outcomes[action.action_id] = run.exception(action)
        elif action.kind is ActionKind.NOT_REACHED:
            outcomes[action.action_id] = run.not_reached(action)
        else:
            by_location.setdefault(action.location, []).append(action)
    for name, actions in by_location.items():
        for outcome in run.location(name, actions):
            outcomes[outcome.action_id] = outcome
    ordered = tuple(outcomes[a.action_id] for a in plan.actions)
    return ExecutionReport(plan.request_id, plan.digest, run_id, ordered)
