"""Fixtures of the proof-ledger tests: a throwaway signer and empty ledgers over each store and database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from models.db import dispose_engines, get_engine, session_scope
from proofs.ledger import Ledger
from proofs.signing import LedgerSigner
from proofs.sql_store import SQLLedgerStore
from proofs.store import JsonlLedgerStore
from tests.conftest import skip_service
from tests.unit.proofs._helpers import TickingClock

PG_URL = os.environ.get("DSR_TEST_DATABASE_URL")
DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.service)]


def _clear_ledger(url: str) -> None:
    with get_engine(url).begin() as conn:
        for table in ("ledger_checkpoints", "ledger_entries"):
            conn.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - fixed table names


@contextmanager
def ledger_database(kind: str, tmp_path: Path) -> Iterator[str]:
    """A migrated case database with empty ledger tables: a SQLite file, or DSR_TEST_DATABASE_URL's PostgreSQL."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'dsr.db'}"
    else:
        if not PG_URL:
            skip_service("DSR_TEST_DATABASE_URL is not set (.ci/run sets it to a fresh PostgreSQL database)")
        url = str(PG_URL)
    _clear_ledger(url)
    try:
        yield url
    finally:
        if kind != "sqlite":  # a SQLite file dies with tmp_path (and a test may have removed it)
            _clear_ledger(url)
        dispose_engines()


@pytest.fixture
def signer() -> LedgerSigner:
    """A throwaway Ed25519 signer."""
    return LedgerSigner(Ed25519PrivateKey.generate())


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    """A SQLite case database in `tmp_path/dsr.db` with the ledger tables."""
    with ledger_database("sqlite", tmp_path) as url:
        yield url


@pytest.fixture(params=DATABASES)
def ledger_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A case database with the ledger tables: SQLite, and PostgreSQL when DSR_TEST_DATABASE_URL is set."""
    with ledger_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def jsonl_ledger(tmp_path: Path, signer: LedgerSigner) -> Ledger:
    """An empty ledger in a JSONL file, sealing every 2 entries."""
    return Ledger(JsonlLedgerStore(tmp_path / "ledger.jsonl"), signer=signer, checkpoint_every=2, clock=TickingClock())


@pytest.fixture
def sql_ledger(ledger_db_url: str, signer: LedgerSigner) -> Ledger:
    """An empty ledger in the case database, sealing every 2 entries."""
    return Ledger(
        SQLLedgerStore(lambda: session_scope(ledger_db_url)), signer=signer, checkpoint_every=2, clock=TickingClock()
    )


@pytest.fixture(params=["jsonl", *DATABASES])
def any_ledger(request: pytest.FixtureRequest, tmp_path: Path, signer: LedgerSigner) -> Iterator[Ledger]:
    """The same empty ledger over each store: a JSONL file, SQLite, PostgreSQL."""
    if request.param == "jsonl":
        yield Ledger(JsonlLedgerStore(tmp_path / "l.jsonl"), signer=signer, checkpoint_every=2, clock=TickingClock())
        return
    with ledger_database(request.param, tmp_path) as url:
        yield Ledger(
            SQLLedgerStore(lambda: session_scope(url)), signer=signer, checkpoint_every=2, clock=TickingClock()
        )
