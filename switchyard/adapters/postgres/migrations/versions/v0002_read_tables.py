"""The read tables (plans, tasks, stage runs, tenants, audit), their bookkeeping and the
projector's positions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

from switchyard.projections.tables import read_metadata

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create every read table and its indexes in the store's schema."""
    schema = op.get_context().version_table_schema
    bind = op.get_bind().execution_options(schema_translate_map={None: schema})
    read_metadata.create_all(bind, checkfirst=True)


def downgrade() -> None:
    """Drop the read tables (their rows too)."""
    schema = op.get_context().version_table_schema
    bind = op.get_bind().execution_options(schema_translate_map={None: schema})
    read_metadata.drop_all(bind, checkfirst=True)
