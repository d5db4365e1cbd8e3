"""An index of the tasks a claim offers before any queued one: those that need a worker
and are leased (a takeover, once the lease expires) or not merely queued (released
while running, paused, rolling back). Without it each claim scanned every task of a big
plan to find the few.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

INDEX = "switchyard_queue_tasks_to_resume"
TABLE = "switchyard_queue_tasks"
WHERE = "needs_worker AND (lease_owner IS NOT NULL OR status <> 'QUEUED')"


def upgrade() -> None:
    """Create the index."""
    schema = op.get_context().version_table_schema
    op.create_index(
        INDEX,
        TABLE,
        ["plan_id"],
        schema=schema,
        postgresql_where=text(WHERE),
        if_not_exists=True,
    )


def downgrade() -> None:
    """Drop it."""
    schema = op.get_context().version_table_schema
    op.drop_index(INDEX, TABLE, schema=schema, if_exists=True)
