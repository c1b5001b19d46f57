"""SQLModel tables of the case database. No copies of personal data from endpoints: findings are
locations, pointers and hashes. Subject identifiers live only in `SubjectIdentifier`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Column, DateTime, Dialect, Integer, String, Text, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from models.lean_write import utcnow

__all__ = [
    "AuditEvent",
    "ErasurePlanRecord",
    "Finding",
    "LedgerCheckpoint",
    "LedgerEntry",
    "LegalHold",
    "Location",
    "LocationScan",
    "RecipientNotice",
    "Request",
    "RequestKey",
    "RetentionRun",
    "SubjectIdentifier",
    "UTCDateTime",
    "utcnow",
]


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored in UTC and always read back timezone-aware (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            return value.astimezone(UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def _ts(nullable: bool = True) -> Column[datetime]:
    return Column(UTCDateTime(), nullable=nullable)


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


class LedgerEntry(SQLModel, table=True):
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


class LedgerCheckpoint(SQLModel, table=True):
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
    prev_checkpoint: str | None = Field(
        default=None, max_length=64, description="Digest of the previous checkpoint (None: from before chaining)."
    )


class ErasurePlanRecord(SQLModel, table=True):
    """An erasure plan (no personal data: locations, paths, lines, hashes) and the human decision on it."""

    __tablename__ = "erasure_plans"

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(foreign_key="requests.id", index=True, max_length=32)
    digest: str = Field(max_length=64, index=True)
    plan_json: str = Field(sa_column=Column(Text, nullable=False))
    summary_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    decision: str = Field(default="pending", max_length=16)
    decided_by: str | None = Field(default=None, max_length=200)
    decided_at: datetime | None = Field(default=None, sa_column=_ts())
    note: str | None = Field(default=None, sa_column=Column(Text))
    executed_at: datetime | None = Field(default=None, sa_column=_ts())


class LegalHold(SQLModel, table=True):
    """A legal hold: blocks purge and erasure within its scope until released (Art. 17(3)(e))."""

    __tablename__ = "legal_holds"

    id: str = Field(primary_key=True, max_length=64)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    case_reference: str = Field(max_length=200)
    approver: str = Field(max_length=200)
    review_date: date
    subjects: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    endpoints: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    paths: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    date_from: date | None = None
    date_to: date | None = None
    source: str = Field(default="cli", max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    released_at: datetime | None = Field(default=None, sa_column=_ts())
    released_by: str | None = Field(default=None, max_length=200)


class RequestKey(SQLModel, table=True):
    """A request's data key, wrapped (AES-GCM) under the master key; destroyed with the package."""

    __tablename__ = "request_keys"

    request_id: str = Field(primary_key=True, foreign_key="requests.id", max_length=32)
    wrapped_key: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    destroyed_at: datetime | None = Field(default=None, sa_column=_ts())


class RecipientNotice(SQLModel, table=True):
    """Art. 19: a recipient told of an erasure (date, channel, reply)."""

    __tablename__ = "recipient_notices"

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(foreign_key="requests.id", index=True, max_length=32)
    recipient: str = Field(max_length=200)
    channel: str = Field(max_length=80)
    notified_at: datetime = Field(sa_column=_ts(nullable=False))
    reply: str | None = Field(default=None, sa_column=Column(Text))


class RetentionRun(SQLModel, table=True):
    """One retention purge (dry or real): counts per category and system, policy versions, run id."""

    __tablename__ = "retention_runs"

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(max_length=64, index=True)
    dry_run: bool = True
    started_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=_ts())
    policies: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    counts: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    outcome: str = Field(default="running", max_length=32)
