"""An index for the audit trail by one aggregate's event type (`Plan.Created`): by
aggregate type, event type and sequence. The index by event type alone serves a bare
type (`Created`) but, for one aggregate's, reads every aggregate's events of that type
to find the few of the one asked for (a plan's `Created` among every task's).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

INDEX = "switchyard_read_audit_kind"
TABLE = "switchyard_read_audit"


def upgrade() -> None:
    """Create the index."""
    schema = op.get_context().version_table_schema
    op.create_index(
        INDEX,
        TABLE,
        ["aggregate_type", "event_type", "sequence"],
        schema=schema,
        if_not_exists=True,
    )


def downgrade() -> None:
    """Drop it."""
    schema = op.get_context().version_table_schema
    op.drop_index(INDEX, TABLE, schema=schema, if_exists=True)
