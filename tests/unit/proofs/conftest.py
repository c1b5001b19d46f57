"""Fixtures of the proof-ledger tests: a fixed clock, a throwaway signer, a populated ledger."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from models.db import dispose_engines, get_engine, session_scope
from proofs._tables_proposed import metadata
from proofs.ledger import Ledger
from proofs.signing import LedgerSigner
from proofs.sql_store import SQLLedgerStore
from proofs.store import JsonlLedgerStore
from tests.unit.proofs._helpers import TickingClock


@pytest.fixture
def signer() -> LedgerSigner:
    """A throwaway Ed25519 signer."""
    return LedgerSigner(Ed25519PrivateKey.generate())


@pytest.fixture
def jsonl_ledger(tmp_path: Path, signer: LedgerSigner) -> Ledger:
    """An empty ledger in a JSONL file, sealing every 2 entries."""
    return Ledger(JsonlLedgerStore(tmp_path / "ledger.jsonl"), signer=signer, checkpoint_every=2, clock=TickingClock())


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    """A migrated SQLite case database with the (proposed) ledger tables."""
    url = f"sqlite:///{tmp_path / 'dsr.db'}"
    metadata.create_all(get_engine(url))
    try:
        yield url
    finally:
        dispose_engines()


@pytest.fixture
def sql_ledger(sqlite_url: str, signer: LedgerSigner) -> Ledger:
    """An empty ledger in the SQLite case database, sealing every 2 entries."""
    return Ledger(
        SQLLedgerStore(lambda: session_scope(sqlite_url)), signer=signer, checkpoint_every=2, clock=TickingClock()
    )


@pytest.fixture(params=["jsonl", "sql"])
def any_ledger(request: pytest.FixtureRequest) -> Ledger:
    """The same empty ledger over each store."""
    name = "jsonl_ledger" if request.param == "jsonl" else "sql_ledger"
    ledger: Ledger = request.getfixturevalue(name)
    return ledger
