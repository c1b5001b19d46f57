"""The connector protocol: one small interface that local disks, SSH laptops and S3 stores implement.

Owns the `Item` record and the contract of every backend. Decides nothing: no policy, no matching,
no database. Errors raised are the `ConnectorError` family of `models.errors`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import BinaryIO, Protocol, Self, runtime_checkable

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


@dataclass(frozen=True, slots=True)
class Item:
    """One file (or S3 object version) as a connector saw it when listing or stating it.

    Frozen and picklable: no client handle inside, so items cross Prefect task boundaries.

    Attributes:
        location: the endpoint or store name the item belongs to.
        path: the path as that system sees it: on a laptop an absolute POSIX path such as
            `/Users/ana/.claude/history.jsonl` (Windows paths as `/C:/Users/...`), on S3 the key.
        size: size in bytes.
        modified_at: aware UTC modification time.
        version: opaque token that changes when the content may have changed
            (local `inode:size:mtime_ns`; SFTP `size:mtime`; S3 `etag:version_id`).
        nlink: hard-link count where the platform has one, else None.
        version_id: S3 version id where the store is versioned, else None.
        is_latest: False for a non-current S3 version.
    """

    location: str
    path: str
    size: int
    modified_at: datetime
    version: str
    nlink: int | None = None
    version_id: str | None = None
    is_latest: bool = True


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
