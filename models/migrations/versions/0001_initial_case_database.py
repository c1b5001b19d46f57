"""initial case database

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_request_id"), ["request_id"], unique=False)

    op.create_table(
        "locations",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("os", sa.String(length=16), nullable=True),
        sa.Column("group", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "requests",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("calendar", sa.String(length=16), nullable=False),
        sa.Column("algorithm_version", sa.String(length=40), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("target_on", sa.Date(), nullable=False),
        sa.Column("extended_due_on", sa.Date(), nullable=True),
        sa.Column("extension_notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("extension_reasons", sa.Text(), nullable=True),
        sa.Column("identity_method", sa.String(length=80), nullable=True),
        sa.Column("identity_outcome", sa.String(length=40), nullable=True),
        sa.Column("identity_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("identity_received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("representative", sa.String(length=200), nullable=True),
        sa.Column("representative_authority", sa.String(length=200), nullable=True),
        sa.Column("authority_reference", sa.String(length=200), nullable=True),
        sa.Column("refusal_ground", sa.String(length=80), nullable=True),
        sa.Column("refusal_reason", sa.Text(), nullable=True),
        sa.Column("report_path", sa.String(length=500), nullable=True),
        sa.Column("package_sha256", sa.String(length=64), nullable=True),
        sa.Column("certificate_path", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_requests_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_requests_status"), ["status"], unique=False)

    op.create_table(
        "findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("location", sa.String(length=64), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.Column("version_id", sa.String(length=200), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("session_id", sa.String(length=200), nullable=True),
        sa.Column("pointers", sa.Text(), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("categories", sa.Text(), nullable=False),
        sa.Column("record_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["requests.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_findings_request_id"), ["request_id"], unique=False)

    op.create_table(
        "location_scans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("location", sa.String(length=64), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("artifacts", sa.Integer(), nullable=False),
        sa.Column("bytes_scanned", sa.Integer(), nullable=False),
        sa.Column("findings", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["requests.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id", "location", "phase", name="uq_scan_request_location"),
    )
    with op.batch_alter_table("location_scans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_location_scans_request_id"), ["request_id"], unique=False)

    op.create_table(
        "subject_identifiers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("normalized", sa.Text(), nullable=True),
        sa.Column("keyed_hash", sa.String(length=64), nullable=False),
        sa.Column("pseudonymised_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["requests.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("subject_identifiers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subject_identifiers_keyed_hash"), ["keyed_hash"], unique=False)
        batch_op.create_index(batch_op.f("ix_subject_identifiers_request_id"), ["request_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("subject_identifiers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subject_identifiers_request_id"))
        batch_op.drop_index(batch_op.f("ix_subject_identifiers_keyed_hash"))

    op.drop_table("subject_identifiers")
    with op.batch_alter_table("location_scans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_location_scans_request_id"))

    op.drop_table("location_scans")
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_findings_request_id"))

    op.drop_table("findings")
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_requests_status"))
        batch_op.drop_index(batch_op.f("ix_requests_kind"))

    op.drop_table("requests")
    op.drop_table("locations")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_request_id"))
        batch_op.drop_index(batch_op.f("ix_audit_events_action"))

    op.drop_table("audit_events")
