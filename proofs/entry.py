"""Proof-ledger values: what a caller records (`ProofRecord`), chained entries, checkpoints, canonical hashing.

Owns field validation. Never holds erased content: only ids, locations, hashes, counts and short codes
(Art. 5(2) "keep what was done, not what was erased"; docs/legal-rules.md). No I/O.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeAlias

from models.errors import InputError

JSONScalar: TypeAlias = str | int | bool | None
JSONValue: TypeAlias = JSONScalar | list["JSONValue"] | dict[str, "JSONValue"]

GENESIS_HASH = "0" * 64
"""`prev_hash` of the first entry."""

FORMAT = "dsr-ledger/1"
"""Format tag of the signed payload of a checkpoint from before chaining (no `prev_checkpoint`)."""

CHAINED_FORMAT = "dsr-ledger/2"
"""Format tag of exports (with a signed head) and of the signed payload of a chained checkpoint."""

HEAD_FORMAT = "dsr-ledger-head/1"
"""Format tag of a signed head (entry count, last seq, last hash, last checkpoint)."""

FORBIDDEN_KEYS = frozenset(
    {
        "content",
        "text",
        "value",
        "body",
        "message",
        "prompt",
        "snippet",
        "excerpt",
        "raw",
        "payload",
        "line_text",
        "plaintext",
        "original",
    }
)
"""Keys a `details` mapping may not use (at any depth), nor end with `_<key>`: the ledger never holds content."""

_CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,199}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MAX_DETAIL_STRING = 512
_MAX_DETAIL_DEPTH = 4
_MAX_PATH = 4096


class LedgerAction(StrEnum):
    """What a ledger entry records."""

    DELETE_FILE = "delete_file"
    DELETE_SESSION = "delete_session"
    REDACT_LINES = "redact_lines"
    DELETE_S3_VERSION = "delete_s3_version"
    EXCEPTION = "exception"
    SKIP = "skip"
    VERIFY = "verify"
    PURGE = "purge"
    APPROVE = "approve"
    REJECT = "reject"
    REMOVE_TEMP = "remove_temp"
    IDENTITY = "identity"
    NOTIFY = "notify"
    """Art. 19: a recipient named in the register was told of the erasure (recipient, channel, date)."""
    VENDOR_REQUEST = "vendor_request"
    """A processor named in the register was asked to erase its copy (processor, channel, date, reference)."""
    PACKAGE_SEALED = "package_sealed"
    """An access package was sealed and issued (file name, manifest hash, the date housekeeping deletes it)."""
    PACKAGE_DELETED = "package_deleted"
    """A sealed access package was deleted (file name, manifest hash)."""
    RELEASE_CHECK = "release_check"
    """The release check of an access package before sealing: `passed` or `blocked`, with item ids and reasons."""
    REQUEST_DATES = "request_dates"
    """A request's dates (received, due, extended due) when they changed, e.g. by an extension."""


def _fail(name: str, why: str) -> InputError:
    return InputError(f"ledger field {name!r} {why}", field=name)


def _check_line(name: str, value: str | None, limit: int) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not value:
        raise _fail(name, "must be a non-empty string or null")
    if len(value) > limit:
        raise _fail(name, f"is longer than {limit} characters")
    if _CONTROL.search(value):
        raise _fail(name, "contains control characters (line breaks are not allowed)")


def _check_token(name: str, value: str | None) -> None:
    if value is not None and (not isinstance(value, str) or not _TOKEN.match(value)):
        raise _fail(name, "must be a short id (letters, digits, ._:@/+=-, at most 200 characters)")


def _check_code(name: str, value: str | None) -> None:
    if value is not None and (not isinstance(value, str) or not _CODE.match(value)):
        raise _fail(name, "must be a lower-case code such as 'clean' or 'art17_3_e'")


def _check_hash(name: str, value: str | None) -> None:
    if value is not None and (not isinstance(value, str) or not _HEX64.match(value)):
        raise _fail(name, "must be a lower-case sha256 hex digest (64 characters)")


def _is_forbidden_key(key: str) -> bool:
    return key in FORBIDDEN_KEYS or any(key.endswith("_" + word) for word in FORBIDDEN_KEYS)


def _check_detail(path: str, value: object, depth: int) -> None:
    if depth > _MAX_DETAIL_DEPTH:
        raise _fail(path, f"nests deeper than {_MAX_DETAIL_DEPTH} levels")
    if value is None or isinstance(value, bool | int):
        return
    if isinstance(value, str):
        if len(value) > _MAX_DETAIL_STRING:
            raise _fail(path, f"is a string longer than {_MAX_DETAIL_STRING} characters (content is never recorded)")
        if _CONTROL.search(value):
            raise _fail(path, "contains control characters (content is never recorded)")
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_detail(f"{path}[{index}]", item, depth + 1)
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str) or not _CODE.match(key):
                raise _fail(path, "has a key that is not a lower-case code")
            if _is_forbidden_key(key):
                raise _fail(f"{path}.{key}", "is a content field; the ledger never records erased content")
            _check_detail(f"{path}.{key}", item, depth + 1)
        return
    raise _fail(path, f"has a value of type {type(value).__name__}; use str, int, bool, null, lists or objects")


def _thaw(value: Any) -> JSONValue:
    if isinstance(value, Mapping):
        return {str(k): _thaw(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_thaw(v) for v in value]
    return value  # type: ignore[no-any-return]


def _freeze(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(_thaw(value)))  # type: ignore[arg-type]


@dataclass(frozen=True)
class ProofRecord:
    """What one action did, as its caller states it: never the erased content.

    Attributes:
        action: what was done (`LedgerAction`).
        request_id: the request, or None for retention purges.
        run_id: the flow run (or CLI run) that did it.
        location: endpoint or store name from the configuration.
        path: the item's path as the laptop sees it, or the S3 key.
        version_id: the S3 version id, where there is one.
        sha256_before: content hash before the action (hex).
        sha256_after: content hash after the action (hex; None when deleted).
        counts: non-negative counters, e.g. `{"lines_redacted": 3}`.
        exception_ground: why something was kept (`art17_3_e`, `legal_hold`, `object_lock`, ...).
        verification: result of a re-check (`clean`, `findings_remain`, `absent`, ...).
        outcome: `done`, `already_absent`, `failed`, ... (NIST AU-3 outcome).
        actor: the acting identity (service account or reviewer id).
        policy_version: version of the policy or algorithm that decided.
        details: non-personal extras (audit-log line numbers, original MACs, hold ids). Keys such as
            `content`, `text` or `value` are refused at any depth.
    """

    action: LedgerAction
    request_id: str | None = None
    run_id: str | None = None
    location: str | None = None
    path: str | None = None
    version_id: str | None = None
    sha256_before: str | None = None
    sha256_after: str | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    exception_ground: str | None = None
    verification: str | None = None
    outcome: str = "done"
    actor: str | None = None
    policy_version: str | None = None
    details: Mapping[str, JSONValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "action", LedgerAction(self.action))
        except ValueError:
            allowed = ", ".join(a.value for a in LedgerAction)
            raise _fail("action", f"must be one of: {allowed}") from None
        _check_token("request_id", self.request_id)
        _check_token("run_id", self.run_id)
        _check_line("location", self.location, 200)
        _check_line("path", self.path, _MAX_PATH)
        _check_line("version_id", self.version_id, 1024)
        _check_hash("sha256_before", self.sha256_before)
        _check_hash("sha256_after", self.sha256_after)
        if not isinstance(self.counts, Mapping):
            raise _fail("counts", "must be a mapping of code to non-negative integer")
        for key, count in self.counts.items():
            if not isinstance(key, str) or not _CODE.match(key):
                raise _fail("counts", "has a key that is not a lower-case code")
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise _fail(f"counts.{key}", "must be a non-negative integer")
        _check_line("exception_ground", self.exception_ground, 200)
        _check_code("verification", self.verification)
        if self.outcome is None:
            raise _fail("outcome", "must be set")
        _check_code("outcome", self.outcome)
        _check_line("actor", self.actor, 200)
        _check_token("policy_version", self.policy_version)
        if not isinstance(self.details, Mapping):
            raise _fail("details", "must be a mapping")
        _check_detail("details", self.details, 0)
        object.__setattr__(self, "counts", _freeze(self.counts))
        object.__setattr__(self, "details", _freeze(self.details))


_RECORD_FIELDS = tuple(f.name for f in fields(ProofRecord))
ENTRY_FIELDS = ("seq", *_RECORD_FIELDS, "idempotency_key", "at", "prev_hash", "entry_hash")
"""Every field of an exported entry (besides the framing `type`), in documentation order."""


def canonical_json(document: Mapping[str, Any]) -> bytes:
    """The canonical bytes that are hashed and signed: sorted keys, compact separators, ASCII only."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode(
        "ascii"
    )


def format_at(at: datetime) -> str:
    """The canonical text of an instant: UTC with microseconds and `+00:00`.

    Raises:
        InputError: `at` is naive.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise _fail("at", "must be an aware datetime")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def parse_at(text: str) -> datetime:
    """The instant of a canonical `at` text (inverse of `format_at`).

    Raises:
        InputError: the text is not an ISO date-time with offset.
    """
    try:
        parsed = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise _fail("at", "is not an ISO date-time") from None
    if parsed.tzinfo is None:
        raise _fail("at", "has no UTC offset")
    return parsed.astimezone(UTC)


def hash_entry_fields(document: Mapping[str, Any]) -> str:
    """sha256 hex over the canonical JSON of `document` without `entry_hash` (and the export's `type`)."""
    body = {k: v for k, v in document.items() if k not in ("entry_hash", "type")}
    return hashlib.sha256(canonical_json(body)).hexdigest()


@dataclass(frozen=True)
class LedgerEntry:
    """One chained ledger entry: a `ProofRecord` with its position, time and hashes."""

    seq: int
    record: ProofRecord
    at: datetime
    prev_hash: str
    entry_hash: str
    idempotency_key: str | None = None

    def hashed_fields(self) -> dict[str, Any]:
        """Every field the entry hash covers, as JSON values."""
        rec = self.record
        return {
            "seq": self.seq,
            "request_id": rec.request_id,
            "run_id": rec.run_id,
            "action": rec.action.value,
            "location": rec.location,
            "path": rec.path,
            "version_id": rec.version_id,
            "sha256_before": rec.sha256_before,
            "sha256_after": rec.sha256_after,
            "counts": _thaw(rec.counts),
            "exception_ground": rec.exception_ground,
            "verification": rec.verification,
            "outcome": rec.outcome,
            "actor": rec.actor,
            "policy_version": rec.policy_version,
            "details": _thaw(rec.details),
            "idempotency_key": self.idempotency_key,
            "at": format_at(self.at),
            "prev_hash": self.prev_hash,
        }

    def to_dict(self) -> dict[str, Any]:
        """The entry as one JSON object (the export's line, without `type`)."""
        return {**self.hashed_fields(), "entry_hash": self.entry_hash}

    def is_intact(self) -> bool:
        """Whether `entry_hash` matches the other fields."""
        return hash_entry_fields(self.hashed_fields()) == self.entry_hash

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> LedgerEntry:
        """Rebuild an entry from its JSON object (validates every field; does not check the hash).

        Raises:
            InputError: a field is missing, unknown or invalid.
        """
        extra = set(document) - set(ENTRY_FIELDS) - {"type"}
        if extra:
            raise InputError(f"ledger entry has unknown fields {sorted(extra)}", field=sorted(extra)[0])
        try:
            record = ProofRecord(**{name: document[name] for name in _RECORD_FIELDS})
            seq = document["seq"]
            prev_hash = document["prev_hash"]
            entry_hash = document["entry_hash"]
            at = parse_at(document["at"])
            key = document["idempotency_key"]
        except KeyError as exc:
            raise InputError(f"ledger entry lacks field {exc.args[0]!r}", field=str(exc.args[0])) from None
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
            raise _fail("seq", "must be a positive integer")
        _check_hash("prev_hash", prev_hash)
        _check_hash("entry_hash", entry_hash)
        _check_line("idempotency_key", key, 512)
        return cls(seq=seq, record=record, at=at, prev_hash=prev_hash, entry_hash=entry_hash, idempotency_key=key)


def chain_entry(
    record: ProofRecord, *, seq: int, prev_hash: str, at: datetime, idempotency_key: str | None = None
) -> LedgerEntry:
    """The entry that puts `record` at position `seq` after the entry whose hash is `prev_hash`.

    Raises:
        InputError: `seq` is not positive, `prev_hash` is not a digest, `at` is naive, or the key is invalid.
    """
    if seq < 1:
        raise _fail("seq", "must be a positive integer")
    _check_hash("prev_hash", prev_hash)
    _check_line("idempotency_key", idempotency_key, 512)
    at = parse_at(format_at(at))
    draft = LedgerEntry(
        seq=seq, record=record, at=at, prev_hash=prev_hash, entry_hash=GENESIS_HASH, idempotency_key=idempotency_key
    )
    return LedgerEntry(
        seq=seq,
        record=record,
        at=at,
        prev_hash=prev_hash,
        entry_hash=hash_entry_fields(draft.hashed_fields()),
        idempotency_key=idempotency_key,
    )


def _check_hex(name: str, text: object) -> None:
    if not isinstance(text, str) or not re.fullmatch(r"[0-9a-f]+", text):
        raise _fail(name, "must be lower-case hex")


def _positive(name: str, number: object, *, zero: bool = False) -> int:
    if isinstance(number, bool) or not isinstance(number, int) or number < (0 if zero else 1):
        raise _fail(name, "must be a non-negative integer" if zero else "must be a positive integer")
    return number


@dataclass(frozen=True)
class Checkpoint:
    """A signed seal over entries `seq_from..seq_to`; `head_hash` is the hash of entry `seq_to`.

    The signature (Ed25519, hex) covers `canonical_json(signed_fields())`. Because every entry's hash
    covers its predecessor's, the head hash commits to the whole chain up to `seq_to`; because every
    checkpoint's signed body carries the previous checkpoint's `digest()` (`prev_checkpoint`, the genesis hash
    for the first), no checkpoint can be removed or replaced without breaking the next one. Checkpoints
    written before chaining have `prev_checkpoint` None (format `dsr-ledger/1`); they verify as before.
    """

    seq_from: int
    seq_to: int
    head_hash: str
    at: datetime
    key_id: str
    signature: str
    prev_checkpoint: str | None = None

    def signed_fields(self) -> dict[str, Any]:
        """The fields the signature covers."""
        return checkpoint_payload(
            self.seq_from, self.seq_to, self.head_hash, self.at, self.key_id, prev_checkpoint=self.prev_checkpoint
        )

    def to_dict(self) -> dict[str, Any]:
        """The checkpoint as one JSON object (the export's line, without `type`)."""
        body = self.signed_fields()
        del body["format"]
        return {**body, "signature": self.signature}

    def digest(self) -> str:
        """sha256 hex over the canonical JSON of `to_dict()` (signature included): what the next one chains to."""
        return hashlib.sha256(canonical_json(self.to_dict())).hexdigest()

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> Checkpoint:
        """Rebuild a checkpoint from its JSON object (does not check the signature).

        Raises:
            InputError: a field is missing or invalid.
        """
        extra = set(document) - {"seq_from", "seq_to", "head_hash", "at", "key_id", "signature", "prev_checkpoint"}
        if extra - {"type"}:
            raise InputError(f"ledger checkpoint has unknown fields {sorted(extra)}", field=sorted(extra)[0])
        try:
            seq_from, seq_to = document["seq_from"], document["seq_to"]
            head_hash, key_id, signature = document["head_hash"], document["key_id"], document["signature"]
            at = parse_at(document["at"])
        except KeyError as exc:
            raise InputError(f"ledger checkpoint lacks field {exc.args[0]!r}", field=str(exc.args[0])) from None
        _positive("seq_from", seq_from)
        _positive("seq_to", seq_to)
        if seq_to < seq_from:
            raise _fail("seq_to", "is before seq_from")
        _check_hash("head_hash", head_hash)
        _check_hex("key_id", key_id)
        _check_hex("signature", signature)
        prev = document.get("prev_checkpoint")
        _check_hash("prev_checkpoint", prev)
        return cls(
            seq_from=seq_from,
            seq_to=seq_to,
            head_hash=head_hash,
            at=at,
            key_id=key_id,
            signature=signature,
            prev_checkpoint=prev,
        )


def checkpoint_payload(
    seq_from: int, seq_to: int, head_hash: str, at: datetime, key_id: str, *, prev_checkpoint: str | None = None
) -> dict[str, Any]:
    """The document a checkpoint signature covers (format tag included, so signatures do not transfer).

    With `prev_checkpoint` (the previous checkpoint's digest, or the genesis hash) the format is
    `dsr-ledger/2`; without it, the pre-chaining `dsr-ledger/1` payload.
    """
    payload: dict[str, Any] = {
        "format": FORMAT if prev_checkpoint is None else CHAINED_FORMAT,
        "seq_from": seq_from,
        "seq_to": seq_to,
        "head_hash": head_hash,
        "at": format_at(at),
        "key_id": key_id,
    }
    if prev_checkpoint is not None:
        payload["prev_checkpoint"] = prev_checkpoint
    return payload


def checkpoint_chain_start(previous: Checkpoint | None) -> str:
    """What the next checkpoint's `prev_checkpoint` is: the digest of `previous`, or the genesis hash."""
    return GENESIS_HASH if previous is None else previous.digest()


@dataclass(frozen=True)
class SignedHead:
    """The ledger's head at one instant, signed: how many entries, the last one, and the last checkpoint.

    Carried by every export (its header), printed by `dsr ledger head`, filed beside each certificate and
    compared by `verify --head`: a ledger cut after `last_seq`, or rewritten up to it, no longer matches.

    Attributes:
        entries: entries in the ledger (seqs are gapless from 1, so equal to `last_seq`).
        last_seq: the last entry's seq (0 for an empty ledger).
        last_hash: the last entry's hash (the genesis hash for an empty ledger).
        checkpoint_seq: the last checkpoint's `seq_to` (0 when none).
        checkpoint_digest: the last checkpoint's `digest()` (the genesis hash when none).
        at: when it was signed.
        key_id: the signing key's fingerprint.
        signature: Ed25519 over `canonical_json(signed_fields())`, hex.
    """

    entries: int
    last_seq: int
    last_hash: str
    checkpoint_seq: int
    checkpoint_digest: str
    at: datetime
    key_id: str
    signature: str

    def signed_fields(self) -> dict[str, Any]:
        """The fields the signature covers."""
        return head_payload(
            self.entries,
            self.last_seq,
            self.last_hash,
            self.checkpoint_seq,
            self.checkpoint_digest,
            self.at,
            self.key_id,
        )

    def to_dict(self) -> dict[str, Any]:
        """The head as one JSON object (format tag included)."""
        return {**self.signed_fields(), "signature": self.signature}

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> SignedHead:
        """Rebuild a head from its JSON object (does not check the signature).

        Raises:
            InputError: a field is missing or invalid, or the format is not `dsr-ledger-head/1`.
        """
        if not isinstance(document, Mapping) or document.get("format") != HEAD_FORMAT:
            raise _fail("head", f"is not a {HEAD_FORMAT} document")
        try:
            head = cls(
                entries=_positive("entries", document["entries"], zero=True),
                last_seq=_positive("last_seq", document["last_seq"], zero=True),
                last_hash=document["last_hash"],
                checkpoint_seq=_positive("checkpoint_seq", document["checkpoint_seq"], zero=True),
                checkpoint_digest=document["checkpoint_digest"],
                at=parse_at(document["at"]),
                key_id=document["key_id"],
                signature=document["signature"],
            )
        except KeyError as exc:
            raise InputError(f"ledger head lacks field {exc.args[0]!r}", field=str(exc.args[0])) from None
        _check_hash("last_hash", head.last_hash)
        _check_hash("checkpoint_digest", head.checkpoint_digest)
        _check_hex("key_id", head.key_id)
        _check_hex("signature", head.signature)
        return head


def head_payload(
    entries: int,
    last_seq: int,
    last_hash: str,
    checkpoint_seq: int,
    checkpoint_digest: str,
    at: datetime,
    key_id: str,
) -> dict[str, Any]:
    """The document a head signature covers."""
    return {
        "format": HEAD_FORMAT,
        "entries": entries,
        "last_seq": last_seq,
        "last_hash": last_hash,
        "checkpoint_seq": checkpoint_seq,
        "checkpoint_digest": checkpoint_digest,
        "at": format_at(at),
        "key_id": key_id,
    }


def _aware(at: datetime) -> datetime:
    # SQLite hands back naive datetimes for DateTime(timezone=True); they were stored as UTC.
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def entry_document(row: Any) -> dict[str, Any]:
    """The JSON object of a `ledger_entries` row (the ORM's `models.tables.LedgerEntry` or a lean read's row)."""
    return {
        "seq": row.seq,
        "request_id": row.request_id,
        "run_id": row.run_id,
        "action": row.action,
        "location": row.location,
        "path": row.path,
        "version_id": row.version_id,
        "sha256_before": row.sha256_before,
        "sha256_after": row.sha256_after,
        "counts": json.loads(row.counts),
        "exception_ground": row.exception_ground,
        "verification": row.verification,
        "outcome": row.outcome,
        "actor": row.actor,
        "policy_version": row.policy_version,
        "details": json.loads(row.details),
        "idempotency_key": row.idempotency_key,
        "at": format_at(_aware(row.at)),
        "prev_hash": row.prev_hash,
        "entry_hash": row.entry_hash,
    }


def checkpoint_of_row(row: Any) -> Checkpoint:
    """The checkpoint of a `ledger_checkpoints` row (the ORM's or a lean read's)."""
    return Checkpoint(
        seq_from=row.seq_from,
        seq_to=row.seq_to,
        head_hash=row.head_hash,
        at=_aware(row.at),
        key_id=row.key_id,
        signature=row.signature,
        prev_checkpoint=row.prev_checkpoint,
    )


def entry_columns(entry: LedgerEntry) -> dict[str, Any]:
    """The columns of the `ledger_entries` row of `entry` (what both the ORM's and the lean store insert), its time
    in UTC (`checkpoint_columns` says why)."""
    document = entry.to_dict()
    return {
        **{k: v for k, v in document.items() if k not in ("counts", "details", "at")},
        "counts": json.dumps(document["counts"], sort_keys=True, ensure_ascii=True),
        "details": json.dumps(document["details"], sort_keys=True, ensure_ascii=True),
        "at": entry.at.astimezone(UTC),
    }


def checkpoint_columns(checkpoint: Checkpoint) -> dict[str, Any]:
    """The columns of the `ledger_checkpoints` row of `checkpoint` (its `id` is the database's).

    Times are stored in UTC, as the entry's (`entry_columns`): SQLAlchemy stores an aware time on SQLite as its
    wall-clock text, dropping the offset, which both stores then read back as UTC.
    """
    return {
        "seq_from": checkpoint.seq_from,
        "seq_to": checkpoint.seq_to,
        "head_hash": checkpoint.head_hash,
        "at": checkpoint.at.astimezone(UTC),
        "key_id": checkpoint.key_id,
        "signature": checkpoint.signature,
        "prev_checkpoint": checkpoint.prev_checkpoint,
    }


_CHUNK = 500


def text_chunks(text: str | None) -> list[JSONValue]:
    """A free-text note as ledger-safe strings: one per line, long lines cut in pieces (no control characters)."""
    if not text:
        return []
    out: list[JSONValue] = []
    for raw in text.splitlines():
        line = "".join(ch for ch in raw if ch.isprintable())
        out.extend(line[i : i + _CHUNK] for i in range(0, max(len(line), 1), _CHUNK))
    return out
