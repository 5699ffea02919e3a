"""watching together: the room's settings, its queue, and system lines in the chat

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 05:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import controlplane.models.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rooms", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("anyone_can_pause", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("queue_host_only", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), server_default="user", nullable=False)
        )
    op.create_table(
        "queue_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("room_id", sa.Uuid(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=True),
        sa.Column("added_by", sa.Uuid(), nullable=False),
        sa.Column(
            "added_at", controlplane.models.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["added_by"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["room_id"], ["rooms.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_queue_entries_room_position", "queue_entries", ["room_id", "position"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_queue_entries_room_position", table_name="queue_entries")
    op.drop_table("queue_entries")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("kind")
    with op.batch_alter_table("rooms", schema=None) as batch_op:
        batch_op.drop_column("queue_host_only")
        batch_op.drop_column("anyone_can_pause")
