"""The case database's proof ledger through the DB-API driver (`models.lean_read`, `models.lean_write`), without
SQLAlchemy: what `dsr ledger verify` reads and `dsr ledger head|export` and `dsr request approve` write. It reads
the same documents `proofs.sql_store.SQLLedgerStore` gives (both build them with `proofs.entry.entry_document` and
`checkpoint_of_row`) and writes the same rows (`proofs.entry.entry_columns`, `checkpoint_columns`) under the same
lock: `BEGIN IMMEDIATE` on SQLite, the transaction-scoped advisory lock `ADVISORY_LOCK_KEY` on PostgreSQL, with the
unique `seq` as the backstop (a collision with a writer that does not take the lock is chained again).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, TypeVar

from models.errors import LedgerError
from models.lean_read import Reader, lean_read, lean_transaction
from models.lean_write import Writer, lean_write
from proofs.entry import (
    GENESIS_HASH,
    Checkpoint,
    LedgerEntry,
    ProofRecord,
    chain_entry,
    checkpoint_chain_start,
    checkpoint_columns,
    checkpoint_of_row,
    entry_columns,
    entry_document,
)
from proofs.store import ADVISORY_LOCK_KEY, WRITE_RETRIES, AppendResult, Head, SignCallback

T = TypeVar("T")


_REFUSED = (
    "the case database refused a ledger operation ({cause}); check that it is reachable and migrated (tables "
    "ledger_entries, ledger_checkpoints)"
)


class _Collision(Exception):
    """A ledger write collided on a unique key with a writer that does not take the lock (nothing written)."""


def _refused(exc: Exception) -> None:
    """Raise for a driver error (or `ValueError`) of a lean ledger operation, rolled back: `_Collision` for a
    unique-key collision, else `LedgerError` naming the error's class only (the driver's message can quote bound
    values), as the ORM's store does."""
    if any(cls.__name__ == "IntegrityError" for cls in type(exc).__mro__):  # sqlite3's and psycopg's
        raise _Collision from None
    raise LedgerError(_REFUSED.format(cause=type(exc).__name__), table="ledger_entries") from None


class LeanLedgerStore:
    """A `LedgerStore` over a current case database (`lean_ledger_store` checks that it is)."""

    def __init__(self, url: str) -> None:
        """Read and write the ledger of the case database at `url`."""
        self._url = url
        self._thread_lock = threading.Lock()

    def _read(self, read: Callable[[Reader], T]) -> T:
        found = lean_transaction(self._url, lambda db: (read(db),), Reader, on_error=_refused)
        if found is None:  # no longer a current case database
            raise LedgerError(_REFUSED.format(cause="not at the newest schema"), table="ledger_entries")
        return found[0]

    def _write(self, write: Callable[[Writer], T]) -> T:
        """`write` in one write transaction under the ledger's lock, attempted again only after a collision on
        `seq` with a writer that does not take the lock (which leaves nothing written); any other refusal is a
        `LedgerError` at once, as in the ORM's store."""

        def locked(db: Writer) -> tuple[T]:
            if not db.is_sqlite:  # SQLite: the transaction began with BEGIN IMMEDIATE
                db.fetch("SELECT pg_advisory_xact_lock(?)", (ADVISORY_LOCK_KEY,))
            return (write(db),)

        for _attempt in range(WRITE_RETRIES):
            try:
                with self._thread_lock:
                    found = lean_write(self._url, locked, on_error=_refused)
            except _Collision:
                continue
            if found is None:  # no longer a current case database
                raise LedgerError(_REFUSED.format(cause="not at the newest schema"), table="ledger_entries")
            return found[0]
        raise LedgerError("ledger append kept colliding with other writers", table="ledger_entries")

    @staticmethod
    def _head(db: Reader) -> Head:
        rows = db.rows("ledger_entries", order="seq DESC", limit=1)
        return Head(0, GENESIS_HASH) if not rows else Head(rows[0].seq, rows[0].entry_hash)

    @staticmethod
    def _last_checkpoint(db: Reader) -> Checkpoint | None:
        rows = db.rows("ledger_checkpoints", order="seq_to DESC", limit=1)
        return checkpoint_of_row(rows[0]) if rows else None

    @staticmethod
    def _find(db: Reader, idempotency_key: str) -> LedgerEntry | None:
        rows = db.rows("ledger_entries", "idempotency_key = ?", (idempotency_key,))
        return LedgerEntry.from_dict(entry_document(rows[0])) if rows else None

    def append(self, record: ProofRecord, *, at: datetime, idempotency_key: str | None = None) -> AppendResult:
        """Chain `record` after the head, or return the entry already stored under `idempotency_key`.

        Raises:
            LedgerError: the database refuses the write.
        """

        def write(db: Writer) -> AppendResult:
            if idempotency_key is not None:
                existing = self._find(db, idempotency_key)
                if existing is not None:
                    return AppendResult(existing, created=False)
            head = self._head(db)
            entry = chain_entry(
                record, seq=head.seq + 1, prev_hash=head.entry_hash, at=at, idempotency_key=idempotency_key
            )
            db.insert("ledger_entries", entry_columns(entry))
            return AppendResult(entry, created=True)

        return self._write(write)

    def add_checkpoint(self, sign: SignCallback) -> Checkpoint | None:
        """Seal the entries after the last checkpoint (None if there are none).

        Raises:
            LedgerError: the database refuses the write.
        """

        def write(db: Writer) -> Checkpoint | None:
            last = self._last_checkpoint(db)
            sealed = last.seq_to if last is not None else 0
            head = self._head(db)
            if head.seq <= sealed:
                return None
            checkpoint = sign(sealed + 1, head.seq, head.entry_hash, checkpoint_chain_start(last))
            db.insert("ledger_checkpoints", checkpoint_columns(checkpoint))
            return checkpoint

        return self._write(write)

    def find(self, idempotency_key: str) -> LedgerEntry | None:
        """The entry stored under `idempotency_key`, if any."""
        return self._read(lambda db: self._find(db, idempotency_key))

    def head(self) -> Head:
        """The last entry's seq and hash."""
        return self._read(self._head)

    def last_checkpoint(self) -> Checkpoint | None:
        """The newest checkpoint, if any."""
        return self._read(self._last_checkpoint)

    def iter_entry_documents(self, *, upto: int | None = None, batch: int = 1000) -> Iterator[dict[str, Any]]:
        """Every entry row as its JSON object, in seq order (read in batches of `batch`)."""
        after = 0
        while True:
            where, params = ("seq > ?", (after,)) if upto is None else ("seq > ? AND seq <= ?", (after, upto))
            rows = self._read(lambda db: db.rows("ledger_entries", where, params, order="seq", limit=batch))  # noqa: B023 - read at once
            documents = [entry_document(row) for row in rows]
            yield from documents
            if len(documents) < batch:
                return
            after = documents[-1]["seq"]

    def iter_checkpoint_documents(self) -> Iterator[dict[str, Any]]:
        """Every checkpoint row as its JSON object, in seq order."""
        rows = self._read(lambda db: db.rows("ledger_checkpoints", order="seq_to"))
        yield from (checkpoint_of_row(row).to_dict() for row in rows)


def lean_ledger_store(url: str) -> LeanLedgerStore | None:
    """The store of the case database at `url`, or None where the ORM's store must serve it (a database to create
    or migrate, another URL form, a driver error)."""
    return LeanLedgerStore(url) if lean_read(url, lambda db: True) else None
