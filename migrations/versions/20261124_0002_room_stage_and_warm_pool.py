"""room start stage and warm pool

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 01:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # batch mode: SQLite can only change a column's nullability by rebuilding the table
    with op.batch_alter_table("rooms", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stage", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("pooled", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.alter_column("host_id", existing_type=sa.Uuid(), nullable=True)
        batch_op.create_index(batch_op.f("ix_rooms_pooled"), ["pooled"], unique=False)


def downgrade() -> None:
    # Warm-pool rooms have no host and cannot survive the old schema.
    op.execute(sa.text("DELETE FROM rooms WHERE host_id IS NULL"))
    with op.batch_alter_table("rooms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rooms_pooled"))
        batch_op.alter_column("host_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.drop_column("pooled")
        batch_op.drop_column("stage")
