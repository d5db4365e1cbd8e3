"""What read-your-writes and the projector's lag are computed from: the relay's last
acknowledged message per partition, and the sequence and time of the projector's last
applied event per partition; and an index for the audit trail's type filter.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
POSITIONS = "switchyard_projector_positions"
NEW_POSITION_COLUMNS = ("last_sequence", "last_time", "applied_at")


def upgrade() -> None:
    """Create the relay's offsets table, add the positions' columns and the type index."""
    schema = op.get_context().version_table_schema
    op.create_table(
        "switchyard_relay_offsets",
        sa.Column("topic", sa.Text, primary_key=True),
        sa.Column("partition", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last_offset", sa.BigInteger, nullable=False),
        sa.Column("last_sequence", sa.BigInteger, nullable=False),
        sa.Column("last_time", TZ, nullable=False),
        schema=schema,
        if_not_exists=True,
    )
    op.add_column(POSITIONS, sa.Column("last_sequence", sa.BigInteger), schema=schema)
    op.add_column(POSITIONS, sa.Column("last_time", TZ), schema=schema)
    op.add_column(POSITIONS, sa.Column("applied_at", TZ), schema=schema)
    op.create_index(
        "switchyard_read_audit_type",
        "switchyard_read_audit",
        ["event_type", "sequence"],
        schema=schema,
        if_not_exists=True,
    )


def downgrade() -> None:
    """Drop what the upgrade added."""
    schema = op.get_context().version_table_schema
    op.drop_index("switchyard_read_audit_type", "switchyard_read_audit", schema=schema)
    for column in NEW_POSITION_COLUMNS:
        op.drop_column(POSITIONS, column, schema=schema)
    op.drop_table("switchyard_relay_offsets", schema=schema, if_exists=True)
