"""The read-only ledger store of `dsr ledger verify` (`proofs.lean_store`, the DB-API driver without SQLAlchemy)
reads exactly what the ORM's store reads, on SQLite and PostgreSQL, verifies alike, and refuses to write."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from models.db import get_engine
from models.errors import LedgerError
from proofs.entry import LedgerAction, ProofRecord
from proofs.lean_store import LeanLedgerStore, lean_ledger_store
from proofs.ledger import Ledger
from proofs.signing import LedgerSigner
from tests.unit.proofs._helpers import sample_record


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
    with pytest.raises(LedgerError):
        by_lean.append(ProofRecord(action=LedgerAction.PURGE))


def test_an_empty_ledger_reads_alike(sqlite_url: str) -> None:
    """No entries: the genesis head, no checkpoint, nothing to iterate."""
    lean = LeanLedgerStore(sqlite_url)
    assert (lean.head().seq, lean.last_checkpoint(), list(lean.iter_entry_documents())) == (0, None, [])


def test_a_database_the_lean_read_cannot_answer_is_left_to_the_orm(tmp_path: Path) -> None:
    """No file yet, or not at the newest schema: None (the ORM's store creates or migrates it)."""
    assert lean_ledger_store(f"sqlite:///{tmp_path / 'none.db'}") is None
    (tmp_path / "empty.db").touch()
    assert lean_ledger_store(f"sqlite:///{tmp_path / 'empty.db'}") is None
