"""ledger checkpoints chained: prev_checkpoint

Revision ID: 0003
Revises: 0002

Checkpoints written before this revision keep `prev_checkpoint` NULL and verify as before (format
`dsr-ledger/1`); the first checkpoint written after it chains to the last of them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ledger_checkpoints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prev_checkpoint", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ledger_checkpoints", schema=None) as batch_op:
        batch_op.drop_column("prev_checkpoint")
