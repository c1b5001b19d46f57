"""SQLModel tables of the case database. No copies of personal data from endpoints: findings are
locations, pointers and hashes. Subject identifiers live only in `SubjectIdentifier`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Column, DateTime, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """The current aware UTC time (the only clock read of the models layer)."""
    return datetime.now(UTC)


def _ts(nullable: bool = True) -> Column[datetime]:
    return Column(DateTime(timezone=True), nullable=nullable)


class Request(SQLModel, table=True):
    """One data-subject request and its lifecycle."""

    __tablename__ = "requests"

    id: str = Field(primary_key=True, max_length=32)
    kind: str = Field(max_length=20, index=True)
    status: str = Field(max_length=24, index=True)
    received_at: datetime = Field(sa_column=_ts(nullable=False))
    channel: str = Field(default="email", max_length=40)
    calendar: str = Field(max_length=16)
    algorithm_version: str = Field(max_length=40)
    due_on: date
    target_on: date
    extended_due_on: date | None = None
    extension_notified_at: datetime | None = Field(default=None, sa_column=_ts())
    extension_reasons: str | None = Field(default=None, sa_column=Column(Text))
    identity_method: str | None = Field(default=None, max_length=80)
    identity_outcome: str | None = Field(default=None, max_length=40)
    identity_requested_at: datetime | None = Field(default=None, sa_column=_ts())
    identity_received_at: datetime | None = Field(default=None, sa_column=_ts())
    representative: str | None = Field(default=None, max_length=200)
    representative_authority: str | None = Field(default=None, max_length=200)
    authority_reference: str | None = Field(default=None, max_length=200)
    refusal_ground: str | None = Field(default=None, max_length=80)
    refusal_reason: str | None = Field(default=None, sa_column=Column(Text))
    report_path: str | None = Field(default=None, max_length=500)
    package_sha256: str | None = Field(default=None, max_length=64)
    certificate_path: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    closed_at: datetime | None = Field(default=None, sa_column=_ts())


class SubjectIdentifier(SQLModel, table=True):
    """One identifier of a request's subject: the value, its normal form and a keyed hash (HMAC)."""

    __tablename__ = "subject_identifiers"

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(foreign_key="requests.id", index=True, max_length=32)
    kind: str = Field(max_length=16)
    value: str | None = Field(default=None, sa_column=Column(Text))
    normalized: str | None = Field(default=None, sa_column=Column(Text))
    keyed_hash: str = Field(max_length=64, index=True)
    pseudonymised_at: datetime | None = Field(default=None, sa_column=_ts())


class Location(SQLModel, table=True):
    """An endpoint or store, synchronised from the configuration."""

    __tablename__ = "locations"

    name: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=16)
    url: str = Field(sa_column=Column(Text, nullable=False))
    os: str | None = Field(default=None, max_length=16)
    group: str | None = Field(default=None, max_length=64)
    active: bool = True
    synced_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class LocationScan(SQLModel, table=True):
    """The status of one location for one request: scanned, pending, unreachable, busy, refused, failed."""

    __tablename__ = "location_scans"
    __table_args__ = (UniqueConstraint("request_id", "location", "phase", name="uq_scan_request_location"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(foreign_key="requests.id", index=True, max_length=32)
    location: str = Field(max_length=64)
    phase: str = Field(default="discovery", max_length=16)
    status: str = Field(max_length=24)
    reason: str | None = Field(default=None, sa_column=Column(Text))
    attempts: int = 0
    first_attempt_at: datetime | None = Field(default=None, sa_column=_ts())
    last_attempt_at: datetime | None = Field(default=None, sa_column=_ts())
    completed_at: datetime | None = Field(default=None, sa_column=_ts())
    artifacts: int = 0
    bytes_scanned: int = 0
    findings: int = 0


class Finding(SQLModel, table=True):
    """One record about the subject: where it is and its hash, never its content."""

    __tablename__ = "findings"

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(foreign_key="requests.id", index=True, max_length=32)
    location: str = Field(max_length=64)
    path: str = Field(sa_column=Column(Text, nullable=False))
    line: int | None = None
    version_id: str | None = Field(default=None, max_length=200)
    kind: str = Field(max_length=32)
    session_id: str | None = Field(default=None, max_length=200)
    pointers: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    content_sha256: str = Field(max_length=64)
    categories: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    record_at: datetime | None = Field(default=None, sa_column=_ts())
    reason: str = Field(default="match", max_length=16)


class AuditEvent(SQLModel, table=True):
    """Who did what, when, to which request, with what outcome (NIST AU-3 fields; no personal data)."""

    __tablename__ = "audit_events"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    actor: str = Field(max_length=200)
    action: str = Field(max_length=64, index=True)
    request_id: str | None = Field(default=None, index=True, max_length=32)
    outcome: str = Field(default="success", max_length=32)
    details: str = Field(default="{}", sa_column=Column(Text, nullable=False))
