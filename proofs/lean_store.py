"""The case database's proof ledger read through the DB-API driver (`models.lean_read`), without SQLAlchemy:
what `dsr ledger verify` reads, the same documents `proofs.sql_store.SQLLedgerStore` gives (both build them with
`proofs.entry.entry_document` and `checkpoint_of_row`). Read-only: appends and checkpoints go through the ORM's
store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, TypeVar

from models.errors import LedgerError
from models.lean_read import Reader, lean_read
from proofs.entry import GENESIS_HASH, Checkpoint, LedgerEntry, ProofRecord, checkpoint_of_row, entry_document
from proofs.store import AppendResult, Head, SignCallback

T = TypeVar("T")


class LeanLedgerStore:
    """A read-only `LedgerStore` over a current case database (`lean_ledger_store` checks that it is)."""

    def __init__(self, url: str) -> None:
        """Read the ledger of the case database at `url`."""
        self._url = url

    def _read(self, read: Callable[[Reader], T]) -> T:
        found = lean_read(self._url, lambda db: (read(db),))
        if found is None:
            raise LedgerError(
                "the case database refused a ledger operation; check that it is reachable and migrated (tables "
                "ledger_entries, ledger_checkpoints)",
                table="ledger_entries",
            )
        return found[0]

    def append(self, record: ProofRecord, *, at: datetime, idempotency_key: str | None = None) -> AppendResult:
        """Refused: this store only reads."""
        raise LedgerError("the lean ledger store only reads", table="ledger_entries")

    def add_checkpoint(self, sign: SignCallback) -> Checkpoint | None:
        """Refused: this store only reads."""
        raise LedgerError("the lean ledger store only reads", table="ledger_checkpoints")

    def find(self, idempotency_key: str) -> LedgerEntry | None:
        """The entry stored under `idempotency_key`, if any."""
        rows = self._read(lambda db: db.rows("ledger_entries", "idempotency_key = ?", (idempotency_key,)))
        return LedgerEntry.from_dict(entry_document(rows[0])) if rows else None

    def head(self) -> Head:
        """The last entry's seq and hash."""
        rows = self._read(lambda db: db.rows("ledger_entries", order="seq DESC", limit=1))
        return Head(0, GENESIS_HASH) if not rows else Head(rows[0].seq, rows[0].entry_hash)

    def last_checkpoint(self) -> Checkpoint | None:
        """The newest checkpoint, if any."""
        rows = self._read(lambda db: db.rows("ledger_checkpoints", order="seq_to DESC", limit=1))
        return checkpoint_of_row(rows[0]) if rows else None

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
    """A read-only store of the case database at `url`, or None where the ORM's store must read it (a database to
    create or migrate, another URL form, a driver error)."""
    return LeanLedgerStore(url) if lean_read(url, lambda db: True) else None
