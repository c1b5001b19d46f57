"""Where ledger entries are kept: the `LedgerStore` protocol and the append-only JSONL file store.

A store assigns sequence numbers and chains entries under its own lock (one writer at a time, across
processes) and answers idempotent appends. It never rewrites or deletes a completed line.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from models.errors import LedgerError
from proofs.entry import GENESIS_HASH, Checkpoint, LedgerEntry, ProofRecord, chain_entry, checkpoint_chain_start

ADVISORY_LOCK_KEY = 0x4C454447
"""PostgreSQL advisory lock id ("LEDG") held for the length of every ledger write transaction (both database
stores: `proofs.sql_store`, `proofs.lean_store`)."""

WRITE_RETRIES = 3
"""Attempts of a database store's write that another writer without the lock collided with."""

SignCallback = Callable[[int, int, str, str], Checkpoint]
"""`sign(seq_from, seq_to, head_hash, prev_checkpoint)` -> a signed `Checkpoint`, called by a store under its
lock; `prev_checkpoint` is the last stored checkpoint's digest (the genesis hash when there is none)."""


@dataclass(frozen=True)
class AppendResult:
    """The entry an append produced or found, and whether it is new."""

    entry: LedgerEntry
    created: bool


@dataclass(frozen=True)
class Head:
    """The last entry's position and hash (`0` and the genesis hash when the ledger is empty)."""

    seq: int
    entry_hash: str


class LedgerStore(Protocol):
    """Append-only storage of entries and checkpoints.

    Contract: `append` and `add_checkpoint` run under one lock shared by every process using the same
    storage, so sequence numbers are gapless and each entry's `prev_hash` is its predecessor's hash. An
    append with an `idempotency_key` that is already stored returns the stored entry unchanged
    (`created=False`) and writes nothing: a killed and rerun executor ends with exactly one entry per
    completed action. Completed entries are never changed or removed.
    """

    def append(self, record: ProofRecord, *, at: datetime, idempotency_key: str | None = None) -> AppendResult:
        """Chain `record` after the current head, or return the entry already stored under `idempotency_key`."""
        ...

    def add_checkpoint(self, sign: SignCallback) -> Checkpoint | None:
        """Seal the entries after the last checkpoint with `sign(seq_from, seq_to, head_hash, prev_checkpoint)`.

        Returns the stored checkpoint, or None when there is nothing new to seal.
        """
        ...

    def find(self, idempotency_key: str) -> LedgerEntry | None:
        """The entry stored under `idempotency_key`, if any."""
        ...

    def head(self) -> Head:
        """The last entry's seq and hash."""
        ...

    def last_checkpoint(self) -> Checkpoint | None:
        """The newest checkpoint, if any."""
        ...

    def iter_entry_documents(self, *, upto: int | None = None) -> Iterator[dict[str, Any]]:
        """Every entry as stored, as its JSON object (no `type`), in seq order, up to seq `upto`."""
        ...

    def iter_checkpoint_documents(self) -> Iterator[dict[str, Any]]:
        """Every checkpoint as stored, as its JSON object (no `type`), in seq order."""
        ...


def _dumps(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True) + "\n").encode("ascii")


class JsonlLedgerStore:
    """The ledger in one append-only JSONL file (`{"type": "entry" | "checkpoint", ...}` per line).

    Every append is one `write` of a whole line followed by `fsync`, under an exclusive `flock` on the
    file (serialises processes) and a thread lock. A line without its newline can only be a write torn
    by a crash before `append` returned; it is cut off at the next open under the lock.
    """

    def __init__(self, path: Path) -> None:
        """Open (or create on first append) the ledger file at `path`."""
        self.path = path
        self._thread_lock = threading.Lock()
        self._offset = 0
        self._head = Head(0, GENESIS_HASH)
        self._keys: dict[str, int] = {}
        self._last_checkpoint: Checkpoint | None = None

    # -- locking and incremental state ------------------------------------------------------------------

    def _open_locked(self) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError as exc:
            raise LedgerError(f"cannot open ledger file {self.path}: {exc.strerror}", path=str(self.path)) from exc
        fcntl.flock(fd, fcntl.LOCK_EX)
        return fd

    def _catch_up(self, fd: int, *, repair: bool) -> None:
        size = os.fstat(fd).st_size
        if size < self._offset:
            raise LedgerError(
                f"ledger file {self.path} shrank: it was truncated outside the ledger", path=str(self.path)
            )
        if size == self._offset:
            return
        chunk = os.pread(fd, size - self._offset, self._offset)
        complete, _, torn = chunk.rpartition(b"\n")
        if torn:
            if not repair:
                raise LedgerError(f"ledger file {self.path} ends in a partial line", path=str(self.path))
            # A torn write never returned to its caller: drop it so the next line starts clean.
            os.ftruncate(fd, self._offset + len(complete) + (1 if complete else 0))
            os.fsync(fd)
        if not complete:
            return
        for number, raw in enumerate(complete.split(b"\n"), start=1):
            try:
                self._absorb(json.loads(raw), number)
            except (ValueError, KeyError, TypeError) as exc:
                raise LedgerError(f"ledger file {self.path} has an unreadable line", path=str(self.path)) from exc
        self._offset += len(complete) + 1

    def _absorb(self, document: dict[str, Any], number: int) -> None:
        kind = document.get("type")
        if kind == "entry":
            seq = document["seq"]
            if seq != self._head.seq + 1:
                raise LedgerError(f"ledger file {self.path} is out of sequence at seq {seq}", path=str(self.path))
            self._head = Head(seq, document["entry_hash"])
            key = document.get("idempotency_key")
            if key is not None:
                self._keys[key] = seq
        elif kind == "checkpoint":
            self._last_checkpoint = Checkpoint.from_dict(document)
        else:
            raise LedgerError(
                f"ledger file {self.path} has an unknown line type near line {number}", path=str(self.path)
            )

    def _write(self, fd: int, document: dict[str, Any]) -> None:
        line = _dumps(document)
        written = os.write(fd, line)
        if written != len(line):
            raise LedgerError(f"short write to ledger file {self.path}", path=str(self.path))
        os.fsync(fd)
        self._offset += len(line)

    def _locked(self, action: Callable[[int], Any]) -> Any:
        with self._thread_lock:
            fd = self._open_locked()
            try:
                self._catch_up(fd, repair=True)
                return action(fd)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

    def _refresh(self) -> None:
        if not self.path.exists():
            return
        self._locked(lambda _fd: None)

    # -- the protocol -----------------------------------------------------------------------------------

    def append(self, record: ProofRecord, *, at: datetime, idempotency_key: str | None = None) -> AppendResult:
        """Chain `record` after the head, or return the entry already stored under `idempotency_key`.

        Raises:
            LedgerError: the file cannot be written or is not a ledger.
        """

        def action(fd: int) -> AppendResult:
            if idempotency_key is not None and idempotency_key in self._keys:
                existing = self._entry_at(self._keys[idempotency_key])
                return AppendResult(existing, created=False)
            entry = chain_entry(
                record,
                seq=self._head.seq + 1,
                prev_hash=self._head.entry_hash,
                at=at,
                idempotency_key=idempotency_key,
            )
            self._write(fd, {"type": "entry", **entry.to_dict()})
            self._head = Head(entry.seq, entry.entry_hash)
            if idempotency_key is not None:
                self._keys[idempotency_key] = entry.seq
            return AppendResult(entry, created=True)

        result: AppendResult = self._locked(action)
        return result

    def add_checkpoint(self, sign: SignCallback) -> Checkpoint | None:
        """Seal the entries after the last checkpoint (None if there are none).

        Raises:
            LedgerError: the file cannot be written.
        """

        def action(fd: int) -> Checkpoint | None:
            sealed = self._last_checkpoint.seq_to if self._last_checkpoint else 0
            if self._head.seq <= sealed:
                return None
            prev = checkpoint_chain_start(self._last_checkpoint)
            checkpoint = sign(sealed + 1, self._head.seq, self._head.entry_hash, prev)
            self._write(fd, {"type": "checkpoint", **checkpoint.to_dict()})
            self._last_checkpoint = checkpoint
            return checkpoint

        result: Checkpoint | None = self._locked(action)
        return result

    def _entry_at(self, seq: int) -> LedgerEntry:
        for document in self.iter_entry_documents(upto=seq):
            if document["seq"] == seq:
                return LedgerEntry.from_dict(document)
        raise LedgerError(f"ledger file {self.path} has no entry {seq}", path=str(self.path), seq=seq)

    def find(self, idempotency_key: str) -> LedgerEntry | None:
        """The entry stored under `idempotency_key`, if any."""
        self._refresh()
        seq = self._keys.get(idempotency_key)
        return None if seq is None else self._entry_at(seq)

    def head(self) -> Head:
        """The last entry's seq and hash."""
        self._refresh()
        return self._head

    def last_checkpoint(self) -> Checkpoint | None:
        """The newest checkpoint, if any."""
        self._refresh()
        return self._last_checkpoint

    def _iter_lines(self) -> Iterator[dict[str, Any]]:
        if not self.path.exists():
            return
        with self.path.open("rb") as fh:
            for number, raw in enumerate(fh, start=1):
                if not raw.endswith(b"\n"):
                    return  # a torn write in progress or left by a crash: not part of the ledger
                try:
                    document = json.loads(raw)
                except ValueError:
                    document = None
                if not isinstance(document, dict):
                    raise LedgerError(
                        f"ledger file {self.path} line {number} is not a JSON object", path=str(self.path)
                    )
                yield document

    def iter_entry_documents(self, *, upto: int | None = None) -> Iterator[dict[str, Any]]:
        """Every entry line as its JSON object (without `type`), in file (= seq) order."""
        for document in self._iter_lines():
            if document.get("type") != "entry":
                continue
            if upto is not None and isinstance(document.get("seq"), int) and document["seq"] > upto:
                return
            yield {k: v for k, v in document.items() if k != "type"}

    def iter_checkpoint_documents(self) -> Iterator[dict[str, Any]]:
        """Every checkpoint line as its JSON object (without `type`)."""
        for document in self._iter_lines():
            if document.get("type") == "checkpoint":
                yield {k: v for k, v in document.items() if k != "type"}
