"""The connector protocol: one small interface that local disks, SSH laptops and S3 stores implement.

Owns the `Item` record (a file as listed and, once read, the compare-and-swap baseline plans name), the
contract of every backend (`Connector`), the base class that gives every backend its lifecycle
(`ConnectorBase`), and the optional capabilities callers test with `isinstance`:
`VersionedStore` (object versions, Object Lock, version-exact deletion), `RemoteScanner` (scanning on the
laptop itself) and `EvidenceStore` (write-once evidence uploads and links). Code outside `connectors/`
names these protocols, never a backend class; backends are built by `connectors.registry`.

Decides nothing: no policy, no matching, no database. Errors raised are the `ConnectorError` family of
`models.errors`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Protocol, Self, runtime_checkable

CHUNK_SIZE = 1 << 20

TEMP_PREFIX = ".dsr-tmp-"
"""Every temporary file this product writes beside a file it replaces starts with this prefix."""


def temp_name(tag: str, path: str) -> str:
    """The one temporary file name a replace of `path` may use under `tag` (a digest of the run's plan).

    The name is derived, never listed or guessed: cleanup after a killed run removes exactly the names
    derived for the plan's own targets, so a user's file that merely starts with `.dsr-tmp-` is never
    touched, and the name cannot be predicted without the plan.
    """
    digest = hashlib.sha256(f"{tag}\0{path}".encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return f"{TEMP_PREFIX}{digest}"


def check_temp_name(name: str) -> str:
    """Return `name` if it is a bare temporary file name of ours (prefix, no separator); else ValueError."""
    if not name.startswith(TEMP_PREFIX) or "/" in name or "\\" in name or name in {".", ".."} or "\0" in name:
        raise ValueError(f"not a temporary file name of ours: {name!r}")
    return name


_BASELINE_FIELDS = ("path", "size", "version", "sha256", "lines", "kind", "fmt", "version_id")


@dataclass(frozen=True, slots=True)
class Item:
    """One file (or S3 object version): as a connector listed it and, once read, as read.

    The one record of a file on a laptop or in a store. Listing and `stat` fill where it is and its version
    token; discovery and purge planning add what reading it told them (`read_as`: kind and format, and
    where the content was read its hash and line count). That read item is the compare-and-swap baseline:
    erasure discovery wraps it with its context (`erasure.discovery.ArtifactInfo`), erasure and purge plans
    name it as a target, and the executor checks the live item against it before any change.

    Frozen and picklable: no client handle inside, so items cross Prefect task boundaries. A plan records
    only the baseline (`baseline`: path, size, version, hash, lines, kind, format, S3 version id); an item
    read back from a plan (`from_baseline`) has no modification time (`mtime` None: reading `modified_at`
    raises, so no age is ever judged from a made-up date) and no `nlink`. Neither is compared: the version
    token already changes with the mtime, and the link count is other names' fact.

    Attributes:
        location: the endpoint or store name the item belongs to.
        path: the path as that system sees it: on a laptop an absolute POSIX path such as
            `/Users/ana/.claude/history.jsonl` (Windows paths as `/C:/Users/...`), on S3 the key.
        size: size in bytes.
        mtime: aware UTC modification time as listed; None when read back from a plan (not known). Read it
            as `modified_at`, which refuses the unknown.
        version: opaque token that changes when the content may have changed
            (local `inode:size:mtime_ns`; SFTP `size:mtime`; S3 `etag:version_id`).
        nlink: hard-link count where the platform has one, else None.
        version_id: S3 version id where the store is versioned, else None.
        is_latest: False for a non-current S3 version.
        sha256: content hash when read (None when not read, e.g. audit keys and residual stores).
        lines: raw line count (`data.split(b"\\n")`) when read, else None.
        kind: artifact kind value once classified (`s3_object` for stores); `other` until then.
        fmt: record format value once classified; `none` (never opened) until then.
    """

    location: str
    path: str
    size: int
    mtime: datetime | None = field(compare=False)
    version: str
    nlink: int | None = field(default=None, compare=False)
    version_id: str | None = None
    is_latest: bool = True
    sha256: str | None = None
    lines: int | None = None
    kind: str = "other"
    fmt: str = "none"

    @property
    def modified_at(self) -> datetime:
        """The aware UTC modification time as listed.

        Raises:
            ValueError: the item was read back from a plan, which records no modification time.
        """
        if self.mtime is None:
            raise ValueError(
                "the modification time of a file read back from a plan is not known (plans record a file's "
                "baseline, not its mtime): stat the file for its current modification time"
            )
        return self.mtime

    def read_as(self, kind: str, fmt: str, *, sha256: str | None = None, lines: int | None = None) -> Item:
        """This item classified, with its hash and line count where its content was read."""
        return replace(self, kind=kind, fmt=fmt, sha256=sha256, lines=lines)

    def baseline(self) -> dict[str, Any]:
        """The JSON form plans record: path, size, version, sha256, lines, kind, fmt, version_id."""
        return {name: getattr(self, name) for name in _BASELINE_FIELDS}

    @classmethod
    def from_baseline(cls, location: str, data: Mapping[str, Any], *, is_latest: bool = True) -> Item:
        """The item a plan (or a staged discovery) recorded with `baseline`, at `location`.

        Raises:
            KeyError: a baseline field other than `version_id` is missing.
        """
        return cls(
            location,
            data["path"],
            data["size"],
            None,
            data["version"],
            version_id=data.get("version_id"),
            is_latest=is_latest,
            sha256=data["sha256"],
            lines=data["lines"],
            kind=data["kind"],
            fmt=data["fmt"],
        )


@dataclass(frozen=True, slots=True)
class Skipped:
    """An entry that listing saw but did not yield as an item, with the reason (every location has an honest status).

    Reasons: `symlink_out_of_scope`, `symlink_loop`, `special_file` (FIFO, device, socket),
    `permission_denied`, `delete_marker`, `vanished`, `path_too_long`. A name that is not UTF-8 is never a
    reason: it is listed like any other, its bytes kept as surrogate escapes (docs/file-names.md).
    """

    location: str
    path: str
    reason: str
    target: str | None = None


@dataclass(frozen=True, slots=True)
class Activity:
    """What the endpoint is doing: whether an agent app that owns the histories is running."""

    agent_running: bool
    evidence: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Expected:
    """What the caller read, for compare-and-swap: the change is refused if any of it no longer holds."""

    size: int
    version: str
    sha256: str | None = None


@dataclass(frozen=True, slots=True)
class RemoteHit:
    """A candidate line found on the laptop (or by the SFTP fallback): confirmation is detection's job.

    Attributes:
        location: the endpoint name.
        path: the file's laptop path.
        line: 1-based raw line number (split on b"\\n").
        offset: byte offset of the line start.
        data: the raw line without its newline.
    """

    location: str
    path: str
    line: int
    offset: int
    data: bytes


# Suffix (after an optional `.gz`) -> format name. JSON, JSONL, text and Markdown are scanned.
SCANNABLE_SUFFIXES: dict[str, str] = {
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".txt": "text",
    ".text": "text",
    ".log": "text",
    ".md": "markdown",
    ".markdown": "markdown",
}


def scannable_format(key: str) -> str | None:
    """The content format of a key (`json`, `jsonl`, `text`, `markdown`), ignoring a trailing `.gz`.

    Args:
        key: an object key.

    Returns:
        The format name, or None when objects of this kind are not scanned.
    """
    name = key.rsplit("/", 1)[-1].lower()
    if name.endswith(".gz"):
        name = name[:-3]
    dot = name.rfind(".")
    if dot <= 0:
        return None
    return SCANNABLE_SUFFIXES.get(name[dot:])


def is_scannable(item: Item) -> bool:
    """Whether an object version holds JSON, JSONL, text or Markdown (possibly gzip-compressed)."""
    return scannable_format(item.path) is not None


@dataclass(frozen=True)
class LockStatus:
    """Object Lock state of one object version, as `head_object` reports it.

    Attributes:
        mode: `COMPLIANCE`, `GOVERNANCE` or None.
        retain_until: aware UTC end of the retention period, or None.
        legal_hold: whether a legal hold is ON.
    """

    mode: str | None
    retain_until: datetime | None
    legal_hold: bool

    def is_locked(self, now: datetime | None = None) -> bool:
        """Whether the version cannot be deleted now (a legal hold, or retention not yet expired).

        GOVERNANCE retention counts as locked too: this connector never bypasses it.
        """
        if self.legal_hold:
            return True
        current = now or datetime.now(UTC)
        return self.mode is not None and self.retain_until is not None and self.retain_until > current


@dataclass(frozen=True)
class RetainedVersion:
    """A version that could not be erased because Object Lock protects it (an Art. 17(3) exception item)."""

    key: str
    version_id: str
    mode: str | None
    retain_until: datetime | None
    legal_hold: bool


@dataclass(frozen=True)
class DeletionOutcome:
    """What `delete_versions` / `erase_object` did for one key.

    Attributes:
        key: the object key.
        deleted: version ids (object versions and delete markers) that were permanently deleted.
        retained: versions protected by Object Lock, left in place, with their lock details.
        missing: requested version ids that were already gone (an outcome, not an error).
    """

    key: str
    deleted: tuple[str, ...] = ()
    retained: tuple[RetainedVersion, ...] = ()
    missing: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """Whether nothing was retained."""
        return not self.retained


@dataclass(frozen=True)
class EvidenceObject:
    """An uploaded evidence file (access package, deletion certificate).

    Attributes:
        bucket: the evidence bucket.
        key: the object key.
        version_id: the version written, or None on an unversioned bucket.
        etag: the ETag without quotes.
        sse: the server-side encryption the store reported.
        retain_until: the Object Lock retention applied, or None when the bucket does not support it.
        lock_mode: the Object Lock mode applied, or None.
    """

    bucket: str
    key: str
    version_id: str | None
    etag: str
    sse: str | None
    retain_until: datetime | None
    lock_mode: str | None


@dataclass(frozen=True)
class StoreState:
    """What a store's bucket says about itself: versioning (`Enabled`, `Suspended` or `off`) and Object Lock."""

    versioning: str
    object_lock: bool


def sha256_of(chunks: Iterable[bytes]) -> str:
    """Hex sha256 of a byte stream given as chunks."""
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def iter_chunks(stream: BinaryIO, size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Yield a stream's bytes in chunks of at most `size` bytes."""
    while chunk := stream.read(size):
        yield chunk


@runtime_checkable
class Connector(Protocol):
    """Where data lives and how bytes move. Implemented by `LocalConnector`, `SSHConnector`, `S3Connector`.

    Contract shared by every backend (the contract tests in `tests/contract/` check each one):

    - `iter_items(prefix)` lazily yields an `Item` per regular file (per object version on S3) under the
      absolute path `prefix`, and a `Skipped` per entry it refused to follow or open. It never follows a
      symlink out of the endpoint's root, terminates on symlink loops, and never opens FIFOs or devices.
    - `stat(path)` returns the current `Item` for `path` without following a final symlink; raises
      `ItemNotFoundError` if it does not exist and `AccessDeniedError` if it is a symlink or out of scope.
    - `open(item)` returns a binary stream of the item's bytes (the whole object version on S3). Callers read
      it in chunks; the connector never loads a whole file into memory.
    - `replace(item, chunks, expected, temp_name=None)` writes new content atomically (readers see the old
      or the new file, never a mix) and only if the item still matches `expected` (size, version and, when
      given, sha256); otherwise it raises `VersionConflictError` and writes nothing. Backends that write a
      temporary file beside the target use exactly `temp_name` when given (created exclusively, never
      through an existing name or link: an existing entry of that name is a `VersionConflictError`). It
      keeps mode and mtime semantics of the backend, never writes through a hard link (a file with
      `nlink > 1` is unlinked and recreated so other names keep the old content), never follows a symlink,
      and leaves no temporary file on failure.
      Local disks and SFTP have no true compare-and-swap: the check happens just before the rename, and a
      writer that changes the file inside that window (microseconds locally, one round trip over SFTP) is not
      detected. Returns the new `Item` (evidence).
    - `delete(item, expected)` removes the item (every S3 version named by it) under the same precondition;
      returns False when it was already gone (an outcome, not an error).
    - `delete_tree(path)` removes a directory tree without following symlinks; returns the number of files
      removed; 0 if it was already gone.
    - `verify(item)` re-checks presence and version bypassing any cache: returns the current `Item`, or None
      if the item is gone.
    - `activity()` reports whether the agent app is running (changes must then wait: `BusyError`).
    - `close()` releases connections; connectors are context managers.
    """

    name: str

    def iter_items(self, prefix: str = "/") -> Iterator[Item | Skipped]: ...

    def stat(self, path: str) -> Item: ...

    def open(self, item: Item) -> BinaryIO: ...

    def replace(
        self, item: Item, chunks: Iterable[bytes], expected: Expected, *, temp_name: str | None = None
    ) -> Item: ...

    def delete(self, item: Item, expected: Expected | None = None) -> bool: ...

    def delete_tree(self, path: str) -> int: ...

    def verify(self, item: Item) -> Item | None: ...

    def activity(self) -> Activity: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class ConnectorBase:
    """The lifecycle every connector shares: `close()` releases connections (nothing by default), and a
    connector is a context manager that closes on exit. Backends override `close` when they hold any."""

    def close(self) -> None:
        """Release connections; idempotent. Nothing to release by default."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@runtime_checkable
class VersionedStore(Connector, Protocol):
    """Optional capability of an object store: every version of an object, its lock, version-exact deletion.

    Items of a versioned store are object versions (`Item.version_id`, `Item.is_latest`); `iter_items` yields
    every version and a `Skipped` with reason `delete_marker` (the marker's version id in `target`) per
    delete marker. Implemented by the S3 connector; tested with `isinstance(connector, VersionedStore)`.

    - `is_versioned()`: whether versioning is (or was) enabled.
    - `iter_versions(key)`: every version and delete marker of exactly `key`, newest first.
    - `open_content(item)` / `replace_content(item, chunks, expected)`: like `open` / `replace`, over the
      decoded content (a gzip object is read gunzipped and re-compressed on write).
    - `lock_status(item)`: the version's retention and legal hold.
    - `delete_versions(key, version_ids)`: permanently delete those versions; locked ones are retained and
      reported, never bypassed. `erase_object(key)`: the same for every version and delete marker of `key`.
    """

    def is_versioned(self) -> bool: ...

    def iter_versions(self, key: str) -> Iterator[Item | Skipped]: ...

    def open_content(self, item: Item) -> BinaryIO: ...

    def replace_content(self, item: Item, chunks: Iterable[bytes], expected: Expected) -> Item: ...

    def lock_status(self, item: Item) -> LockStatus: ...

    def delete_versions(self, key: str, version_ids: Iterable[str]) -> DeletionOutcome: ...

    def erase_object(self, key: str) -> DeletionOutcome: ...


@runtime_checkable
class RemoteScanner(Protocol):
    """Optional capability of a laptop connector: walk and pre-filter files on the laptop itself.

    `scan_remote(prefix, literals)` yields, per file under `prefix` (a path or a sequence of them), its
    `Item` then its `RemoteHit`s (lines containing any of `literals`, lower-cased), and a `Skipped` per entry
    not followed or opened; only candidate lines leave the laptop. `scanner_runs()` says whether the laptop
    can run the scanner at all (no file is read). Implemented by the SSH connector.
    """

    def scan_remote(
        self, prefix: str | Sequence[str] = "/", literals: Sequence[bytes] = ()
    ) -> Iterator[Item | Skipped | RemoteHit]: ...

    def scanner_runs(self) -> bool: ...


@runtime_checkable
class EvidenceStore(Protocol):
    """Where sealed packages, certificates and ledger anchors are kept: write-once where the bucket can.

    - `upload_evidence(bucket, key, path, sse=, retain_until=)` / `put_evidence_bytes(bucket, key, data, ...)`:
      store a file or bytes with server-side encryption and, where the bucket has Object Lock and
      `retain_until` is given, retention until then; a new version when the key exists.
    - `evidence_object_lock(bucket)`: whether the bucket keeps objects write-once.
    - `evidence_versions(bucket, prefix)`: every key under `prefix` with its version ids, oldest first.
    - `read_evidence(bucket, key, version_id)`: the bytes of one version.
    - `presign(bucket, key, expires)`: a time-limited download link (never logged).
    Built by `connectors.registry.open_evidence_store`; a context manager like every connector.
    """

    def upload_evidence(
        self,
        bucket: str,
        key: str,
        path: Path | str,
        *,
        sse: str = "AES256",
        retain_until: datetime | None = None,
        lock_mode: str = "COMPLIANCE",
        content_type: str = "application/octet-stream",
    ) -> EvidenceObject: ...

    def put_evidence_bytes(
        self, bucket: str, key: str, data: bytes, *, sse: str = "AES256", retain_until: datetime | None = None
    ) -> EvidenceObject: ...

    def evidence_object_lock(self, bucket: str) -> bool: ...

    def evidence_versions(self, bucket: str, prefix: str) -> dict[str, list[str]]: ...

    def read_evidence(self, bucket: str, key: str, version_id: str) -> bytes: ...

    def presign(self, bucket: str, key: str, expires: timedelta) -> str: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
