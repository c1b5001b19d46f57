"""Chained checkpoints and signed heads: ledgers from before chaining keep verifying, and chain on from there."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from models.db import get_engine, session_scope
from proofs.entry import Checkpoint, canonical_json, checkpoint_payload
from proofs.ledger import Ledger
from proofs.signing import LedgerSigner, is_signature_valid
from proofs.sql_store import SQLLedgerStore
from proofs.store import Head, JsonlLedgerStore
from proofs.verify import Problem, verify_export
from tests.unit.proofs._helpers import TickingClock, sample_record

AT = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def _legacy(signer: LedgerSigner, seq_from: int, seq_to: int, head_hash: str, _prev: str) -> Checkpoint:
    """A checkpoint as written before chaining: format dsr-ledger/1, no prev_checkpoint."""
    payload = checkpoint_payload(seq_from, seq_to, head_hash, AT, signer.key_id)
    signature = signer.private_key.sign(canonical_json(payload)).hex()
    return Checkpoint(seq_from, seq_to, head_hash, AT, signer.key_id, signature)


def _old_ledger(url: str, signer: LedgerSigner) -> Ledger:
    """Six entries, sealed 1..2 and 3..4 by pre-chaining checkpoints, then 5..6 by a chained one."""
    ledger = Ledger(
        SQLLedgerStore(lambda: session_scope(url)), signer=signer, checkpoint_every=None, clock=TickingClock()
    )
    for index in range(1, 7):
        ledger.append(sample_record(index), idempotency_key=f"key-{index}")
        if index in (2, 4):
            ledger.store.add_checkpoint(lambda a, b, h, p: _legacy(signer, a, b, h, p))
    ledger.seal()
    return ledger


def test_checkpoints_are_chained_and_signed_over_the_link(ledger_db_url: str, signer: LedgerSigner) -> None:
    """Each new checkpoint carries the previous one's digest inside its signed body."""
    ledger = Ledger(
        SQLLedgerStore(lambda: session_scope(ledger_db_url)), signer=signer, checkpoint_every=2, clock=TickingClock()
    )
    for index in range(1, 5):
        ledger.append(sample_record(index))
    first, second = ledger.checkpoints()
    assert first.prev_checkpoint == "0" * 64 and second.prev_checkpoint == first.digest()
    assert second.signed_fields()["format"] == "dsr-ledger/2"
    forged = Checkpoint(**{**second.__dict__, "prev_checkpoint": "1" * 64})
    assert is_signature_valid(second, signer.public_key) and not is_signature_valid(forged, signer.public_key)


def test_ledger_from_before_chaining_still_verifies(ledger_db_url: str, signer: LedgerSigner) -> None:
    """Old checkpoints (no link) verify as before, with a note; the first new one chains to the last old one."""
    ledger = _old_ledger(ledger_db_url, signer)
    old_first, old_last, new = ledger.checkpoints()
    assert (old_first.prev_checkpoint, old_last.prev_checkpoint) == (None, None)
    assert new.prev_checkpoint == old_last.digest()
    result = ledger.verify()
    assert result.ok, result.first_error
    assert any(w.startswith("legacy_checkpoints: the first 2") for w in result.warnings)


def test_dropping_the_last_old_checkpoint_is_named(ledger_db_url: str, signer: LedgerSigner) -> None:
    """Removing the pre-chaining checkpoint 3..4 is caught by the seq range (and the new one's link)."""
    ledger = _old_ledger(ledger_db_url, signer)
    with get_engine(ledger_db_url).begin() as conn:
        conn.execute(text("DELETE FROM ledger_checkpoints WHERE seq_to = 4"))
    error = ledger.verify().first_error
    assert error is not None and error.problem is Problem.MISSING and error.checkpoint


def test_export_from_before_signed_heads_is_refused_with_the_fix(tmp_path: Path) -> None:
    """A `dsr-ledger/1` export has no signed head, so a cut tail cannot be ruled out: re-export, says verify."""
    path = tmp_path / "old.jsonl"
    path.write_text(json.dumps({"type": "header", "format": "dsr-ledger/1", "entries": 0}) + "\n", encoding="ascii")
    result = verify_export(path)
    assert not result.ok and result.first_error is not None
    assert result.first_error.problem is Problem.MISSING
    assert "dsr ledger export" in result.first_error.detail


def test_database_from_before_chaining_upgrades_and_chains_on(tmp_path: Path, signer: LedgerSigner) -> None:
    """A case database at revision 0002 holding a ledger with old checkpoints is migrated on first use; the
    ledger verifies, and the next checkpoint chains to the last old one."""
    from alembic import command
    from sqlalchemy import create_engine

    from models.db import alembic_config, dispose_engines

    old = Ledger(JsonlLedgerStore(tmp_path / "old.jsonl"), signer=signer, checkpoint_every=None, clock=TickingClock())
    for index in range(1, 5):
        old.append(sample_record(index), idempotency_key=f"key-{index}")
        if index % 2 == 0:
            old.store.add_checkpoint(lambda a, b, h, p: _legacy(signer, a, b, h, p))
    url = f"sqlite:///{tmp_path / 'dsr.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        cfg = alembic_config(url)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
        for document in old.store.iter_entry_documents():
            row = {**document, "counts": json.dumps(document["counts"]), "details": json.dumps(document["details"])}
            conn.execute(
                text(f"INSERT INTO ledger_entries ({', '.join(row)}) VALUES ({', '.join(':' + k for k in row)})"),  # noqa: S608 - fixed column names
                row,
            )
        for document in old.store.iter_checkpoint_documents():
            conn.execute(
                text(
                    "INSERT INTO ledger_checkpoints (seq_from, seq_to, head_hash, at, key_id, signature) "
                    "VALUES (:seq_from, :seq_to, :head_hash, :at, :key_id, :signature)"
                ),
                {**document, "at": AT},
            )
    engine.dispose()
    try:
        ledger = Ledger(SQLLedgerStore(lambda: session_scope(url)), signer=signer, clock=TickingClock())
        before = ledger.verify()
        assert before.ok, before.first_error
        ledger.append(sample_record(5))
        ledger.seal()
        checkpoints = ledger.checkpoints()
        assert checkpoints[-1].prev_checkpoint == checkpoints[-2].digest()
        after = ledger.verify()
        assert after.ok and after.sealed_to == 5, after.first_error
    finally:
        dispose_engines()


class _SealsRightAfterHead:
    """A store through which another writer appends and seals right after the export has read the head."""

    def __init__(self, inner: JsonlLedgerStore, other: Ledger) -> None:
        self._inner, self._other, self.armed = inner, other, False

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def head(self) -> Head:
        head = self._inner.head()
        if self.armed:
            self.armed = False
            self._other.append(sample_record(99))
            self._other.seal()
        return head


def test_export_during_a_concurrent_seal_still_verifies(tmp_path: Path, signer: LedgerSigner) -> None:
    """A checkpoint sealed by another run after the export read its head is left out, not taken for a cut."""
    inner = JsonlLedgerStore(tmp_path / "l.jsonl")
    other = Ledger(JsonlLedgerStore(tmp_path / "l.jsonl"), signer=signer, checkpoint_every=None, clock=TickingClock())
    store = _SealsRightAfterHead(inner, other)
    ledger = Ledger(store, signer=signer, checkpoint_every=None, clock=TickingClock())  # type: ignore[arg-type]
    for index in range(1, 4):
        ledger.append(sample_record(index))
    store.armed = True
    ledger.export_jsonl(tmp_path / "e.jsonl")
    assert len(ledger.checkpoints()) == 2  # the other run's checkpoint exists, past the exported head
    result = verify_export(tmp_path / "e.jsonl", signer.public_key_pem())
    assert result.ok, result.first_error
    assert result.head_seq == 3
