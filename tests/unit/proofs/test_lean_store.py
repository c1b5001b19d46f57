"""The ledger store of `dsr ledger verify|head|export` (`proofs.lean_store`, the DB-API driver without SQLAlchemy)
reads exactly what the ORM's store reads and writes exactly the rows it writes, under the same lock, on SQLite and
PostgreSQL."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text

from models.db import get_engine, session_scope
from models.errors import LedgerError
from models.lean_write import INSERT_COLUMNS
from proofs.entry import Checkpoint, LedgerAction, ProofRecord
from proofs.lean_store import LeanLedgerStore, lean_ledger_store
from proofs.ledger import Ledger
from proofs.signing import LedgerSigner
from proofs.sql_store import SQLLedgerStore
from proofs.store import ADVISORY_LOCK_KEY, LedgerStore
from tests.unit.proofs._helpers import TickingClock, sample_record


def test_reads_what_the_orm_store_reads(sql_ledger: Ledger, ledger_db_url: str, signer: LedgerSigner) -> None:
    """Entries with every field (several read batches), checkpoints, head, last checkpoint and idempotent finds
    are the ORM store's; the verification of both gives the same result, and so after a row is modified."""
    for index in range(7):
        sql_ledger.append(sample_record(index), idempotency_key=f"key-{index}")
    sql_ledger.seal()
    orm = sql_ledger.store
    lean = lean_ledger_store(ledger_db_url)
    assert lean is not None
    assert list(lean.iter_entry_documents(batch=3)) == list(orm.iter_entry_documents())
    assert list(lean.iter_entry_documents(upto=4, batch=2)) == list(orm.iter_entry_documents(upto=4))
    assert list(lean.iter_checkpoint_documents()) == list(orm.iter_checkpoint_documents())
    assert lean.head() == orm.head()
    assert lean.last_checkpoint() == orm.last_checkpoint()
    assert lean.find("key-5") == orm.find("key-5") and lean.find("key-5") is not None
    assert lean.find("no such key") is None
    by_lean = Ledger(lean, signer=signer, checkpoint_every=None)
    assert by_lean.verify() == sql_ledger.verify() and by_lean.verify().ok
    with get_engine(ledger_db_url).begin() as conn:
        conn.execute(text("UPDATE ledger_entries SET outcome = 'changed' WHERE seq = 3"))
    assert by_lean.verify() == sql_ledger.verify() and not by_lean.verify().ok


def _stored(url: str) -> list[list[tuple[object, ...]]]:
    """The ledger's rows as stored (the driver's values), the checkpoints without their serial id."""
    with get_engine(url).begin() as conn:
        entries = [tuple(r) for r in conn.execute(text("SELECT * FROM ledger_entries ORDER BY seq"))]
        columns = ", ".join(c for c in INSERT_COLUMNS["ledger_checkpoints"])
        checkpoints = conn.execute(text(f"SELECT {columns} FROM ledger_checkpoints ORDER BY seq_to"))  # noqa: S608 - fixed names
        rows = [entries, [tuple(r) for r in checkpoints]]
        conn.execute(text("DELETE FROM ledger_checkpoints"))
        conn.execute(text("DELETE FROM ledger_entries"))
    return rows


def test_writes_what_the_orm_store_writes(ledger_db_url: str, signer: LedgerSigner) -> None:
    """The same appends (every field, an idempotent repeat), automatic and explicit seals and a signed head over
    the lean store leave the same rows, as stored, as over the ORM's store, and the same results."""

    def scenario(store: LedgerStore) -> tuple[list[object], list[list[tuple[object, ...]]]]:
        ledger = Ledger(store, signer=signer, checkpoint_every=3, clock=TickingClock())
        results: list[object] = [ledger.append(sample_record(i), idempotency_key=f"key-{i}") for i in range(7)]
        results.append(ledger.append(sample_record(99), idempotency_key="key-2"))  # stored already: no new row
        results += [ledger.seal(), ledger.seal(), ledger.signed_head()]
        return results, _stored(ledger_db_url)

    orm = scenario(SQLLedgerStore(lambda: session_scope(ledger_db_url)))
    lean_store = lean_ledger_store(ledger_db_url)
    assert lean_store is not None
    lean = scenario(lean_store)
    assert lean == orm
    assert len(orm[1][0]) == 7 and len(orm[1][1]) == 3


def _blocked(url: str) -> bool:
    """Whether another connection is kept from taking the ledger's write lock right now."""
    if url.startswith("sqlite:///"):
        other = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=0.05)
        try:
            other.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            return True
        finally:
            other.close()
        return False
    with get_engine(url).begin() as conn:
        return not conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": ADVISORY_LOCK_KEY}).scalar()


def test_holds_the_write_lock_while_sealing(ledger_db_url: str, signer: LedgerSigner) -> None:
    """While the lean store signs a checkpoint (head and last checkpoint read, row not yet written), no other
    writer can take the ledger's lock: SQLite's write lock, PostgreSQL's advisory lock, as the ORM's store."""
    store = lean_ledger_store(ledger_db_url)
    assert store is not None
    store.append(ProofRecord(action=LedgerAction.PURGE), at=datetime.now(UTC))
    outcomes: list[bool] = []

    def sign(seq_from: int, seq_to: int, head_hash: str, prev: str) -> Checkpoint:
        outcomes.append(_blocked(ledger_db_url))
        return signer.sign_checkpoint(
            seq_from=seq_from, seq_to=seq_to, head_hash=head_hash, at=datetime.now(UTC), prev_checkpoint=prev
        )

    assert store.add_checkpoint(sign) is not None
    assert outcomes == [True]
    assert not _blocked(ledger_db_url)


def test_a_refused_write_is_a_ledger_error_and_writes_nothing(sqlite_url: str) -> None:
    """A database that refuses the write (a table gone) gives the ORM store's `LedgerError`, after the retries."""
    store = LeanLedgerStore(sqlite_url)
    with get_engine(sqlite_url).begin() as conn:
        conn.execute(text("DROP TABLE ledger_checkpoints"))
    store.append(ProofRecord(action=LedgerAction.PURGE), at=datetime.now(UTC))
    with pytest.raises(LedgerError, match="refused a ledger operation"):
        store.add_checkpoint(lambda *args: pytest.fail("signed without a table to write to"))


def test_an_empty_ledger_reads_alike(sqlite_url: str) -> None:
    """No entries: the genesis head, no checkpoint, nothing to iterate."""
    lean = LeanLedgerStore(sqlite_url)
    assert (lean.head().seq, lean.last_checkpoint(), list(lean.iter_entry_documents())) == (0, None, [])


def test_a_database_the_lean_read_cannot_answer_is_left_to_the_orm(tmp_path: Path) -> None:
    """No file yet, or not at the newest schema: None (the ORM's store creates or migrates it)."""
    assert lean_ledger_store(f"sqlite:///{tmp_path / 'none.db'}") is None
    (tmp_path / "empty.db").touch()
    assert lean_ledger_store(f"sqlite:///{tmp_path / 'empty.db'}") is None


def test_a_refusal_other_than_a_collision_is_not_attempted_again(ledger_db_url: str, signer: LedgerSigner) -> None:
    """A signing error (or any refusal but a unique-key collision) is not retried: the one-line `LedgerError`
    names its class, as the ORM's store does, and the callback ran once; nothing is written."""
    store = lean_ledger_store(ledger_db_url)
    assert store is not None
    store.append(ProofRecord(action=LedgerAction.PURGE), at=datetime.now(UTC))
    calls: list[int] = []

    def sign(*args: object) -> Checkpoint:
        calls.append(1)
        raise ValueError("the signing key refused")

    with pytest.raises(LedgerError, match=r"refused a ledger operation \(ValueError\)"):
        store.add_checkpoint(sign)
    assert calls == [1]
    assert store.last_checkpoint() is None


def test_a_collision_on_seq_is_chained_again(ledger_db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer that does not take the lock took the next `seq` (here: the first attempt chains at a taken seq):
    the unique key refuses it, and the append is chained again after the head; it ends colliding after the
    retries."""
    import proofs.lean_store as lean_store_module

    store = lean_ledger_store(ledger_db_url)
    assert store is not None
    store.append(ProofRecord(action=LedgerAction.PURGE), at=datetime.now(UTC))
    real_chain = lean_store_module.chain_entry
    attempts: list[int] = []

    def stale_once(record: ProofRecord, *, seq: int, **kwargs: object) -> object:
        attempts.append(seq)
        return real_chain(record, seq=1 if len(attempts) == 1 else seq, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(lean_store_module, "chain_entry", stale_once)
    entry = store.append(ProofRecord(action=LedgerAction.PURGE, path="/p"), at=datetime.now(UTC)).entry
    assert (attempts, entry.seq, store.head().seq) == ([2, 2], 2, 2)
    monkeypatch.setattr(
        lean_store_module, "chain_entry", lambda record, **kwargs: real_chain(record, **{**kwargs, "seq": 1})
    )  # type: ignore[arg-type]
    with pytest.raises(LedgerError, match="kept colliding"):
        store.append(ProofRecord(action=LedgerAction.PURGE, path="/q"), at=datetime.now(UTC))
    assert store.head().seq == 2


def test_the_refusal_of_a_read_names_its_class(sqlite_url: str) -> None:
    """A read the database refuses (a table gone) names the driver error's class, not only a hint."""
    store = LeanLedgerStore(sqlite_url)
    with get_engine(sqlite_url).begin() as conn:
        conn.execute(text("DROP TABLE ledger_checkpoints"))
    with pytest.raises(LedgerError, match=r"refused a ledger operation \(OperationalError\)"):
        store.last_checkpoint()


class _OffsetClock(TickingClock):
    """`TickingClock`'s instants, read in UTC+02:00."""

    def __call__(self) -> datetime:
        return super().__call__().astimezone(timezone(timedelta(hours=2)))


def test_times_with_an_offset_are_stored_in_utc_by_both_stores(ledger_db_url: str, signer: LedgerSigner) -> None:
    """Entries and checkpoints timed in UTC+02:00 are stored exactly as the same instants timed in UTC, by the
    ORM's store and the lean store alike, and the ledger verifies (an entry's time is part of its hash)."""

    def scenario(store: LedgerStore, clock: TickingClock) -> list[list[tuple[object, ...]]]:
        ledger = Ledger(store, signer=signer, checkpoint_every=2, clock=clock)
        for index in range(3):
            ledger.append(sample_record(index), idempotency_key=f"key-{index}")
        ledger.seal()
        assert ledger.verify().ok
        return _stored(ledger_db_url)

    lean = lean_ledger_store(ledger_db_url)
    assert lean is not None
    orm = SQLLedgerStore(lambda: session_scope(ledger_db_url))
    in_utc = scenario(orm, TickingClock())
    assert scenario(orm, _OffsetClock()) == in_utc
    assert scenario(lean, _OffsetClock()) == in_utc
    assert len(in_utc[0]) == 3 and len(in_utc[1]) == 2
