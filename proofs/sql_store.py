"""The proof ledger in the case database (tables `ledger_entries`, `ledger_checkpoints`).

Appends are serialised by `BEGIN IMMEDIATE` on SQLite and a transaction-scoped advisory lock on
PostgreSQL, with a unique `seq` as the backstop. Never updates or deletes a row.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlmodel import Session, col, select

from models.errors import LedgerError
from models.tables import LedgerCheckpoint as CheckpointRow
from models.tables import LedgerEntry as EntryRow
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

SessionFactory = Callable[[], AbstractContextManager[Session]]
"""A fresh session per call, committed when the block ends normally (e.g. `models.db.session_scope(url)`)."""


class SQLLedgerStore:
    """`LedgerStore` over the case database (SQLite or PostgreSQL) through `session_factory`."""

    def __init__(self, session_factory: SessionFactory) -> None:
        """Use sessions from `session_factory`; each operation runs in its own transaction."""
        self._sessions = session_factory
        self._thread_lock = threading.Lock()

    def _lock(self, session: Session) -> None:
        dialect = session.get_bind().dialect.name
        if dialect == "sqlite":
            # Must be the transaction's first statement: takes the write lock before anything is read.
            session.execute(text("BEGIN IMMEDIATE"))
        elif dialect == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})

    def _run(self, action: Callable[[Session], Any], *, write: bool) -> Any:
        for attempt in range(WRITE_RETRIES):
            try:
                with self._thread_lock, self._sessions() as session:
                    if write:
                        self._lock(session)
                    return action(session)
            except IntegrityError as exc:
                # Another writer without our lock (a different tool) won the same seq: chain again.
                if attempt + 1 == WRITE_RETRIES:
                    raise LedgerError(
                        "ledger append kept colliding with other writers", table="ledger_entries"
                    ) from exc
            except (OperationalError, ProgrammingError) as exc:
                # Class names only: the driver's message can quote bound values (paths).
                cause = type(exc.orig).__name__ if exc.orig is not None else type(exc).__name__
                raise LedgerError(
                    f"the case database refused a ledger operation ({cause}); check that it is reachable and "
                    "migrated (tables ledger_entries, ledger_checkpoints)",
                    table="ledger_entries",
                ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _head(session: Session) -> Head:
        row = session.exec(select(EntryRow).order_by(col(EntryRow.seq).desc()).limit(1)).first()
        return Head(0, GENESIS_HASH) if row is None else Head(row.seq, row.entry_hash)

    @staticmethod
    def _last_checkpoint(session: Session) -> CheckpointRow | None:
        return session.exec(select(CheckpointRow).order_by(col(CheckpointRow.seq_to).desc()).limit(1)).first()

    @staticmethod
    def _find(session: Session, key: str) -> LedgerEntry | None:
        row = session.exec(select(EntryRow).where(EntryRow.idempotency_key == key)).first()
        return None if row is None else LedgerEntry.from_dict(entry_document(row))

    def append(self, record: ProofRecord, *, at: datetime, idempotency_key: str | None = None) -> AppendResult:
        """Chain `record` after the head, or return the entry already stored under `idempotency_key`.

        Raises:
            LedgerError: the tables are missing or the database refuses the write.
        """

        def action(session: Session) -> AppendResult:
            if idempotency_key is not None:
                existing = self._find(session, idempotency_key)
                if existing is not None:
                    return AppendResult(existing, created=False)
            head = self._head(session)
            entry = chain_entry(
                record, seq=head.seq + 1, prev_hash=head.entry_hash, at=at, idempotency_key=idempotency_key
            )
            session.add(EntryRow(**entry_columns(entry)))
            session.flush()
            return AppendResult(entry, created=True)

        result: AppendResult = self._run(action, write=True)
        return result

    def add_checkpoint(self, sign: SignCallback) -> Checkpoint | None:
        """Seal the entries after the last checkpoint (None if there are none).

        Raises:
            LedgerError: the tables are missing or the database refuses the write.
        """

        def action(session: Session) -> Checkpoint | None:
            last = self._last_checkpoint(session)
            sealed = last.seq_to if last is not None else 0
            head = self._head(session)
            if head.seq <= sealed:
                return None
            prev = checkpoint_chain_start(checkpoint_of_row(last) if last is not None else None)
            checkpoint = sign(sealed + 1, head.seq, head.entry_hash, prev)
            session.add(CheckpointRow(**checkpoint_columns(checkpoint)))
            session.flush()
            return checkpoint

        result: Checkpoint | None = self._run(action, write=True)
        return result

    def find(self, idempotency_key: str) -> LedgerEntry | None:
        """The entry stored under `idempotency_key`, if any."""
        result: LedgerEntry | None = self._run(lambda s: self._find(s, idempotency_key), write=False)
        return result

    def head(self) -> Head:
        """The last entry's seq and hash."""
        result: Head = self._run(self._head, write=False)
        return result

    def last_checkpoint(self) -> Checkpoint | None:
        """The newest checkpoint, if any."""

        def action(session: Session) -> Checkpoint | None:
            row = self._last_checkpoint(session)
            return None if row is None else checkpoint_of_row(row)

        result: Checkpoint | None = self._run(action, write=False)
        return result

    def iter_entry_documents(self, *, upto: int | None = None, batch: int = 1000) -> Iterator[dict[str, Any]]:
        """Every entry row as its JSON object, in seq order (read in batches of `batch`)."""
        after = 0
        while True:

            def action(session: Session, after: int = after) -> list[dict[str, Any]]:
                query = select(EntryRow).where(EntryRow.seq > after)
                if upto is not None:
                    query = query.where(EntryRow.seq <= upto)
                rows = session.exec(query.order_by(col(EntryRow.seq)).limit(batch)).all()
                return [entry_document(row) for row in rows]

            documents: list[dict[str, Any]] = self._run(action, write=False)
            yield from documents
            if len(documents) < batch:
                return
            after = documents[-1]["seq"]

    def iter_checkpoint_documents(self) -> Iterator[dict[str, Any]]:
        """Every checkpoint row as its JSON object, in seq order."""

        def action(session: Session) -> list[dict[str, Any]]:
            rows = session.exec(select(CheckpointRow).order_by(col(CheckpointRow.seq_to))).all()
            return [checkpoint_of_row(row).to_dict() for row in rows]

        documents: list[dict[str, Any]] = self._run(action, write=False)
        yield from documents
