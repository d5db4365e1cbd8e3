"""The scheduler's queue tables, fences and indexes, and the relay's position table.

Exactly what switchyard created before Alembic owned its tables (the recorder's
create statements and the relay's own), each with IF NOT EXISTS: a database made
by that code upgrades to this revision without a change.

Revision ID: 0001
Revises:
Create Date: 2026-11-20
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import CreateSequence, DropSequence

from switchyard.adapters.postgres.tables import bigserial

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UNFINISHED_SQL = "'CREATED', 'PAUSED', 'QUEUED', 'ROLLING_BACK', 'RUNNING'"
"""The unfinished statuses when this revision was written (a test holds the code to it)."""


def upgrade() -> None:
    """Create the queue tables, the fences sequence, the indexes and the relay's table."""
    schema = op.get_context().version_table_schema
    op.create_table(
        "switchyard_queue_plans",
        sa.Column("plan_id", sa.Uuid, primary_key=True),
        sa.Column("max_concurrency", sa.Integer, nullable=False),
        bigserial("seq"),
        schema=schema,
        if_not_exists=True,
    )
    _create_tasks(schema)
    op.execute(CreateSequence(sa.Sequence("switchyard_fences", schema=schema), if_not_exists=True))
    _create_task_indexes(schema)
    op.create_table(
        "switchyard_relay_position",
        sa.Column("id", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.CheckConstraint("id = 1"),
        schema=schema,
        if_not_exists=True,
    )


def _create_tasks(schema: str | None) -> None:
    op.create_table(
        "switchyard_queue_tasks",
        sa.Column("task_id", sa.Uuid, primary_key=True),
        sa.Column("plan_id", sa.Uuid, nullable=False),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("needs_worker", sa.Boolean, nullable=False),
        sa.Column("total_stages", sa.Integer, nullable=False),
        sa.Column("lease_owner", sa.Text),
        sa.Column("lease_expires", sa.DateTime(timezone=True)),
        sa.Column("fence", sa.BigInteger),
        sa.Column("current_stage", sa.Text),
        sa.Column("completed_stages", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True)),
        schema=schema,
        if_not_exists=True,
    )


def _create_task_indexes(schema: str | None) -> None:
    tasks = "switchyard_queue_tasks"
    for name, columns, where, unique in (
        ("switchyard_queue_tasks_waiting", ["plan_id", "position"], "needs_worker", False),
        ("switchyard_queue_tasks_leased", ["plan_id"], "lease_owner IS NOT NULL", False),
        (
            "switchyard_queue_one_active_task_per_tenant",
            ["tenant_id"],
            "lease_owner IS NOT NULL",
            True,
        ),
        (
            "switchyard_queue_tasks_unfinished",
            ["tenant_id"],
            f"status IN ({UNFINISHED_SQL})",
            False,
        ),
    ):
        op.create_index(
            name,
            tasks,
            columns,
            schema=schema,
            unique=unique,
            postgresql_where=sa.text(where),
            if_not_exists=True,
        )


def downgrade() -> None:
    """Drop everything the upgrade creates (the rows in them too)."""
    schema = op.get_context().version_table_schema
    op.drop_table("switchyard_relay_position", schema=schema, if_exists=True)
    op.execute(DropSequence(sa.Sequence("switchyard_fences", schema=schema), if_exists=True))
    op.drop_table("switchyard_queue_tasks", schema=schema, if_exists=True)
    op.drop_table("switchyard_queue_plans", schema=schema, if_exists=True)
