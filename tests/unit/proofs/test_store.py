"""Ledger stores: gapless chaining, exactly-once appends, serialised writers, database verification."""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool
from sqlmodel import Session

from models.db import get_engine, session_scope
from models.errors import LedgerError
from proofs.entry import Checkpoint, LedgerAction, ProofRecord
from proofs.ledger import Ledger, open_database_ledger
from proofs.signing import LedgerSigner, key_id_of, public_key_pem
from proofs.sql_store import ADVISORY_LOCK_KEY, SQLLedgerStore
from proofs.store import JsonlLedgerStore
from proofs.verify import Problem, verify_export
from tests.unit.proofs._helpers import TickingClock, fill, sample_record

REPO = Path(__file__).resolve().parents[3]


def test_append_chains_and_seals_every_n(any_ledger: Ledger) -> None:
    """Five appends give seqs 1..5, each linked to the previous, and checkpoints over 1..2 and 3..4."""
    fill(any_ledger, 5)
    entries = list(any_ledger.entries())
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert all(b.prev_hash == a.entry_hash for a, b in itertools.pairwise(entries))
    assert [(c.seq_from, c.seq_to) for c in any_ledger.checkpoints()] == [(1, 2), (3, 4)]
    result = any_ledger.verify()
    assert result.ok and result.sealed_to == 4
    assert any(w.startswith("unsealed_tail") for w in result.warnings)


def test_idempotent_append_returns_the_stored_entry(any_ledger: Ledger) -> None:
    """Appending again under the same key (a rerun after a crash) writes nothing and returns the first entry."""
    first = any_ledger.append(sample_record(1), idempotency_key="DSR-1:delete_file:laptop-1:/a:abc")
    any_ledger.append(sample_record(2), idempotency_key="other")
    again = any_ledger.append(sample_record(9), idempotency_key="DSR-1:delete_file:laptop-1:/a:abc")
    assert again == first
    assert [e.seq for e in any_ledger.entries()] == [1, 2]
    assert any_ledger.store.find("DSR-1:delete_file:laptop-1:/a:abc") == first


def test_seal_without_new_entries_is_none(any_ledger: Ledger) -> None:
    """Sealing twice in a row signs one checkpoint only."""
    fill(any_ledger, 1)
    assert any_ledger.seal() is not None
    assert any_ledger.seal() is None
    assert len(any_ledger.checkpoints()) == 1


def test_seal_without_signer_is_a_ledger_error(tmp_path: Path) -> None:
    """A ledger without a signing key cannot seal, and says so."""
    ledger = Ledger(JsonlLedgerStore(tmp_path / "l.jsonl"), signer=None)
    ledger.append(ProofRecord(action=LedgerAction.PURGE))
    with pytest.raises(LedgerError, match="signing key"):
        ledger.seal()


def test_export_of_each_store_verifies_alone(any_ledger: Ledger, tmp_path: Path) -> None:
    """The export of either store verifies from the file alone and seals the tail first."""
    fill(any_ledger, 3)
    summary = any_ledger.export_jsonl(tmp_path / "export.jsonl")
    assert (summary.entries, summary.sealed_to) == (3, 3)
    assert any_ledger.signer is not None
    result = verify_export(tmp_path / "export.jsonl", any_ledger.signer.public_key_pem())
    assert result.ok and result.warnings == ()


def test_coverage_names_the_sealing_checkpoint(any_ledger: Ledger) -> None:
    """A request's entries map to their seq range and the checkpoint that seals the last one."""
    any_ledger.append(ProofRecord(action=LedgerAction.DELETE_FILE, request_id="DSR-2026-0001"))
    any_ledger.append(ProofRecord(action=LedgerAction.PURGE))
    any_ledger.append(ProofRecord(action=LedgerAction.VERIFY, request_id="DSR-2026-0001", verification="clean"))
    assert any_ledger.coverage("DSR-2026-0002") is None
    before = any_ledger.coverage("DSR-2026-0001")
    assert before is not None and (before.seq_first, before.seq_last, before.checkpoint) == (1, 3, None)
    any_ledger.seal()
    after = any_ledger.coverage("DSR-2026-0001")
    assert after is not None and after.checkpoint is not None and after.checkpoint.seq_to == 3


def test_jsonl_store_reopens_and_continues(tmp_path: Path, signer: LedgerSigner) -> None:
    """A new process (a new store on the same file) continues the chain and honours old keys."""
    path = tmp_path / "l.jsonl"
    fill(Ledger(JsonlLedgerStore(path), signer=signer, clock=TickingClock()), 3)
    reopened = Ledger(JsonlLedgerStore(path), signer=signer, clock=TickingClock())
    assert reopened.append(sample_record(7), idempotency_key="key-2").seq == 2
    assert reopened.append(sample_record(7), idempotency_key="new").seq == 4
    assert reopened.verify().ok


def test_jsonl_store_drops_a_torn_last_line(tmp_path: Path, signer: LedgerSigner) -> None:
    """A partial line left by a crash mid-write is cut off at the next append; the chain stays intact."""
    path = tmp_path / "l.jsonl"
    fill(Ledger(JsonlLedgerStore(path), signer=signer, clock=TickingClock()), 2)
    with path.open("ab") as fh:
        fh.write(b'{"type":"entry","seq":3,"act')
    ledger = Ledger(JsonlLedgerStore(path), signer=signer, clock=TickingClock())
    assert ledger.append(sample_record(3)).seq == 3
    assert ledger.verify().ok
    assert all(line.startswith("{") and line.endswith("}") for line in path.read_text().splitlines())


_WRITER = """
import sys
from pathlib import Path
from models.db import session_scope
from proofs.entry import Checkpoint, LedgerAction, ProofRecord
from proofs.ledger import Ledger, open_database_ledger
from proofs.sql_store import ADVISORY_LOCK_KEY, SQLLedgerStore
from proofs.store import JsonlLedgerStore
kind, target, name, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
store = JsonlLedgerStore(Path(target)) if kind == "jsonl" else SQLLedgerStore(lambda: session_scope(target))
ledger = Ledger(store, signer=None)
for i in range(count):
    ledger.append(ProofRecord(action=LedgerAction.PURGE, run_id=name, counts={"i": i}), idempotency_key=f"{name}-{i}")
    ledger.append(ProofRecord(action=LedgerAction.PURGE, run_id=name), idempotency_key=f"{name}-{i}")
"""


def _run_writers(kind: str, target: str) -> None:
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, kind, target, f"w{n}", "15"], cwd=REPO, stderr=subprocess.PIPE)
        for n in range(3)
    ]
    try:
        for writer in writers:
            _, stderr = writer.communicate(timeout=120)
            assert writer.returncode == 0, stderr.decode(errors="replace")[-2000:]
    finally:
        for writer in writers:
            if writer.poll() is None:
                writer.kill()
                writer.wait()


def _assert_gapless(ledger: Ledger) -> None:
    entries = list(ledger.entries())
    assert [e.seq for e in entries] == list(range(1, 46))
    assert len({e.idempotency_key for e in entries}) == 45
    assert ledger.verify().first_error is None


def test_concurrent_jsonl_writers_stay_gapless(tmp_path: Path) -> None:
    """Three processes appending to one file leave seqs 1..N, one entry per key, and an intact chain."""
    _run_writers("jsonl", str(tmp_path / "shared.jsonl"))
    _assert_gapless(Ledger(JsonlLedgerStore(tmp_path / "shared.jsonl")))


def test_concurrent_database_writers_stay_gapless(ledger_db_url: str) -> None:
    """Three processes appending to one database leave seqs 1..N, one entry per key, and an intact chain."""
    _run_writers("sql", ledger_db_url)
    _assert_gapless(Ledger(SQLLedgerStore(lambda: session_scope(ledger_db_url))))


def test_database_verify_names_a_modified_row(sql_ledger: Ledger, ledger_db_url: str) -> None:
    """An UPDATE behind the ledger's back (a row's path) fails database verification, naming that seq."""
    fill(sql_ledger, 4)
    with get_engine(ledger_db_url).begin() as conn:
        conn.execute(text("UPDATE ledger_entries SET path = '/moved.jsonl' WHERE seq = 3"))
    result = sql_ledger.verify()
    assert result.first_error is not None
    assert (result.first_error.problem, result.first_error.seq) == (Problem.MODIFIED, 3)


def test_database_verify_names_a_deleted_row(sql_ledger: Ledger, ledger_db_url: str) -> None:
    """A DELETE of one row fails database verification as `missing` with that seq."""
    fill(sql_ledger, 4)
    with get_engine(ledger_db_url).begin() as conn:
        conn.execute(text("DELETE FROM ledger_entries WHERE seq = 2"))
    result = sql_ledger.verify()
    assert result.first_error is not None
    assert (result.first_error.problem, result.first_error.seq) == (Problem.MISSING, 2)


def test_database_without_ledger_tables_is_a_ledger_error(tmp_path: Path) -> None:
    """A database without the ledger tables (not migrated) gives a LedgerError naming the tables."""
    engine = create_engine(f"sqlite:///{tmp_path / 'bare.db'}", poolclass=NullPool)
    ledger = Ledger(SQLLedgerStore(lambda: Session(engine)), signer=LedgerSigner(Ed25519PrivateKey.generate()))
    with pytest.raises(LedgerError, match="ledger_entries"):
        ledger.append(ProofRecord(action=LedgerAction.PURGE))


def test_export_holds_no_content_fields(any_ledger: Ledger, tmp_path: Path) -> None:
    """Every exported object has only the documented fields: nothing named like content."""
    fill(any_ledger, 3)
    any_ledger.export_jsonl(tmp_path / "e.jsonl")
    keys: set[str] = set()
    for line in (tmp_path / "e.jsonl").read_text().splitlines():
        keys |= set(json.loads(line))
    assert not keys & {"content", "text", "value", "body", "message", "prompt"}


def _other_writer_blocked(url: str) -> bool:
    """Whether another connection is kept from writing the ledger right now (SQLite or PostgreSQL)."""
    if url.startswith("sqlite:///"):
        other = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=0.05)
        try:
            other.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            return True
        finally:
            other.close()
        return False
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1), poolclass=NullPool)
    try:
        with engine.begin() as conn:
            got = conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": ADVISORY_LOCK_KEY}).scalar()
    finally:
        engine.dispose()
    return not got


def test_sql_store_holds_the_write_lock_while_sealing(sql_ledger: Ledger, ledger_db_url: str) -> None:
    """While the store signs a checkpoint, no other connection can take the ledger's write lock."""
    fill(sql_ledger, 1)
    signer = sql_ledger.signer
    assert signer is not None
    outcomes: list[bool] = []

    def sign(seq_from: int, seq_to: int, head_hash: str, prev: str) -> Checkpoint:
        outcomes.append(_other_writer_blocked(ledger_db_url))
        return signer.sign_checkpoint(
            seq_from=seq_from, seq_to=seq_to, head_hash=head_hash, at=datetime.now(UTC), prev_checkpoint=prev
        )

    assert sql_ledger.store.add_checkpoint(sign) is not None
    assert outcomes == [True]
    assert not _other_writer_blocked(ledger_db_url)


def test_jsonl_store_holds_the_file_lock_while_sealing(jsonl_ledger: Ledger, tmp_path: Path) -> None:
    """While the store signs a checkpoint, another process's flock on the ledger file would block."""
    fill(jsonl_ledger, 1)
    signer = jsonl_ledger.signer
    assert signer is not None
    outcomes: list[str] = []

    def sign(seq_from: int, seq_to: int, head_hash: str, prev: str) -> Checkpoint:
        fd = os.open(tmp_path / "ledger.jsonl", os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            outcomes.append("other writer got in")
        except BlockingIOError:
            outcomes.append("locked")
        finally:
            os.close(fd)
        return signer.sign_checkpoint(
            seq_from=seq_from, seq_to=seq_to, head_hash=head_hash, at=datetime.now(UTC), prev_checkpoint=prev
        )

    assert jsonl_ledger.store.add_checkpoint(sign) is not None
    assert outcomes == ["locked"]


def test_open_database_ledger_takes_a_secret_value(ledger_db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A key handed over as text (a Prefect Secret block's value) signs, ahead of the environment and files."""
    monkeypatch.setenv("DSR_LEDGER_SIGNING_KEY", "22" * 32)
    secret = Ed25519PrivateKey.generate()
    ledger = open_database_ledger(ledger_db_url, signing_key=None, key_text=_hex_seed(secret), checkpoint_every=1)
    ledger.append(ProofRecord(action=LedgerAction.PURGE))
    assert ledger.signer is not None and ledger.signer.key_id == key_id_of(secret.public_key())
    assert ledger.verify(public_key_pem(secret.public_key())).sealed_to == 1


def _hex_seed(key: Ed25519PrivateKey) -> str:
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    return raw.hex()
