"""The API's idempotency keys: per token and key, the request's fingerprint and the
response it got, replayed when the same request is sent again.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLE = "switchyard_idempotency_keys"


def upgrade() -> None:
    """Create the table and its index by age (for the purge of expired keys)."""
    schema = op.get_context().version_table_schema
    op.create_table(
        TABLE,
        sa.Column("token_id", sa.Text, primary_key=True),
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("status", sa.SmallInteger, nullable=False),
        sa.Column("headers", sa.JSON, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        schema=schema,
        if_not_exists=True,
    )
    op.create_index(
        "switchyard_idempotency_keys_age", TABLE, ["created_at"], schema=schema, if_not_exists=True
    )


def downgrade() -> None:
    """Drop it."""
    schema = op.get_context().version_table_schema
    op.drop_table(TABLE, schema=schema, if_exists=True)
