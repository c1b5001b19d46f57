"""Proposed case-database tables of the proof ledger, pending their move into `models/tables.py` + a migration.

Kept on a private SQLAlchemy registry so they do not join `SQLModel.metadata` (the Alembic migrations
and their schema test own that). Rows hold ids, locations, hashes and counts only, never erased content.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

_registry = registry()


class _ProposedBase(SQLModel, registry=_registry):
    """Private base: a metadata of its own until the lead moves these tables into `models.tables`."""


class LedgerEntry(_ProposedBase, table=True):
    """One proof-ledger entry (append-only; `entry_hash` = sha256 over the canonical JSON of the other fields)."""

    __tablename__ = "ledger_entries"

    seq: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    request_id: str | None = Field(default=None, max_length=200, index=True)
    run_id: str | None = Field(default=None, max_length=200)
    action: str = Field(max_length=32, index=True)
    location: str | None = Field(default=None, max_length=200)
    path: str | None = Field(default=None, sa_column=Column(Text))
    version_id: str | None = Field(default=None, max_length=1024)
    sha256_before: str | None = Field(default=None, max_length=64)
    sha256_after: str | None = Field(default=None, max_length=64)
    counts: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    exception_ground: str | None = Field(default=None, max_length=200)
    verification: str | None = Field(default=None, max_length=64)
    outcome: str = Field(default="done", max_length=64)
    actor: str | None = Field(default=None, max_length=200)
    policy_version: str | None = Field(default=None, max_length=200)
    details: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    idempotency_key: str | None = Field(default=None, sa_column=Column(String(512), unique=True))
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    prev_hash: str = Field(max_length=64)
    entry_hash: str = Field(max_length=64, unique=True)


class LedgerCheckpoint(_ProposedBase, table=True):
    """A signed seal over ledger entries `seq_from..seq_to` (Ed25519 over the canonical checkpoint JSON)."""

    __tablename__ = "ledger_checkpoints"
    __table_args__ = (UniqueConstraint("seq_to", name="uq_ledger_checkpoints_seq_to"),)

    id: int | None = Field(default=None, primary_key=True)
    seq_from: int
    seq_to: int
    head_hash: str = Field(max_length=64)
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    key_id: str = Field(max_length=64)
    signature: str = Field(max_length=256)


metadata = _registry.metadata
"""The metadata holding only the two ledger tables (tests create them with `metadata.create_all`)."""
