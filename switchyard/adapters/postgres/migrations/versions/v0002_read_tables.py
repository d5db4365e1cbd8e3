"""The read tables (plans, tasks, stage runs, tenants, audit), their bookkeeping and the
projector's positions.

Written out as this revision created them: later changes to `projections.tables`
go in later revisions, never here.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def tables() -> dict[str, list[sa.Column[Any]]]:
    """Each table's columns as this revision made them (new objects each call: a column
    belongs to one table)."""
    return {
        "switchyard_read_plans": [
            sa.Column("plan_id", sa.Text, primary_key=True),
            sa.Column("name", sa.Text),
            sa.Column("status", sa.Text, nullable=False),
            sa.Column("task_counts", JSONB, nullable=False),
            sa.Column("tasks_total", sa.Integer, nullable=False),
            sa.Column("stages_done", sa.Integer, nullable=False),
            sa.Column("stages_total", sa.Integer, nullable=False),
            sa.Column("max_concurrency", sa.Integer),
            sa.Column("created_by", sa.Text),
            sa.Column("created_at", TZ),
            sa.Column("finished_at", TZ),
        ],
        "switchyard_read_tasks": [
            sa.Column("task_id", sa.Text, primary_key=True),
            sa.Column("plan_id", sa.Text, nullable=False),
            sa.Column("tenant_id", sa.Text, nullable=False),
            sa.Column("position", sa.Integer, nullable=False),
            sa.Column("service_type", sa.Text, nullable=False),
            sa.Column("target_version", sa.Text, nullable=False),
            sa.Column("status", sa.Text, nullable=False),
            sa.Column("current_stage", sa.Text),
            sa.Column("completed_stages", sa.Integer, nullable=False),
            sa.Column("total_stages", sa.Integer, nullable=False),
            sa.Column("pause_requested", sa.Boolean, nullable=False),
            sa.Column("cancel_requested", sa.Boolean, nullable=False),
            sa.Column("attempt", sa.Integer, nullable=False),
            sa.Column("failed_stage", sa.Text),
            sa.Column("failure_message", sa.Text),
            sa.Column("has_checkpoint", sa.Boolean, nullable=False),
            sa.Column("owner", sa.Text),
            sa.Column("fence", sa.BigInteger),
            sa.Column("created_at", TZ, nullable=False),
            sa.Column("started_at", TZ),
            sa.Column("finished_at", TZ),
            sa.Column("waiting_for", sa.Text),
        ],
        "switchyard_read_stage_runs": [
            sa.Column("task_id", sa.Text, primary_key=True),
            sa.Column("fence", sa.BigInteger, primary_key=True),
            sa.Column("stage_index", sa.Integer, primary_key=True),
            sa.Column("stage_name", sa.Text, nullable=False),
            sa.Column("attempt", sa.Integer, nullable=False),
            sa.Column("started_at", TZ, nullable=False),
            sa.Column("ended_at", TZ),
            sa.Column("outcome", sa.Text),
            sa.Column("failure_type", sa.Text),
            sa.Column("failure_message", sa.Text),
        ],
        "switchyard_read_tenants": [
            sa.Column("tenant_id", sa.Text, primary_key=True),
            sa.Column("service_type", sa.Text),
            sa.Column("version", sa.Text),
            sa.Column("switched_by_task", sa.Text),
            sa.Column("latest_task", sa.Text),
            sa.Column("latest_task_status", sa.Text),
        ],
        "switchyard_read_audit": [
            sa.Column("sequence", sa.BigInteger, primary_key=True, autoincrement=False),
            sa.Column("time", TZ, nullable=False),
            sa.Column("actor", sa.Text),
            sa.Column("aggregate_type", sa.Text, nullable=False),
            sa.Column("aggregate_id", sa.Text, nullable=False),
            sa.Column("version", sa.Integer, nullable=False),
            sa.Column("event_type", sa.Text, nullable=False),
            sa.Column("tenant_id", sa.Text),
            sa.Column("plan_id", sa.Text),
            sa.Column("traceparent", sa.Text),
            sa.Column("payload", JSONB, nullable=False),
        ],
        "switchyard_read_versions": [
            sa.Column("aggregate_id", sa.Text, primary_key=True),
            sa.Column("version", sa.Integer, nullable=False),
            sa.Column("sequence", sa.BigInteger, nullable=False),
        ],
        "switchyard_read_held": [
            sa.Column("aggregate_id", sa.Text, primary_key=True),
            sa.Column("version", sa.Integer, primary_key=True),
            sa.Column("sequence", sa.BigInteger, nullable=False),
            sa.Column("event", JSONB, nullable=False),
            sa.Column("held_at", TZ, nullable=False, server_default=sa.text("now()")),
        ],
        "switchyard_projector_positions": [
            sa.Column("topic", sa.Text, primary_key=True),
            sa.Column("partition", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("next_offset", sa.BigInteger, nullable=False),
        ],
    }


INDEXES = [
    ("switchyard_read_plans_newest", "switchyard_read_plans", ["created_at", "plan_id"]),
    ("switchyard_read_plans_status", "switchyard_read_plans", ["status", "created_at", "plan_id"]),
    ("switchyard_read_tasks_plan", "switchyard_read_tasks", ["plan_id", "position"]),
    ("switchyard_read_tasks_tenant", "switchyard_read_tasks", ["tenant_id", "created_at"]),
    ("switchyard_read_audit_aggregate", "switchyard_read_audit", ["aggregate_id", "sequence"]),
    ("switchyard_read_audit_tenant", "switchyard_read_audit", ["tenant_id", "sequence"]),
    ("switchyard_read_audit_plan", "switchyard_read_audit", ["plan_id", "sequence"]),
    ("switchyard_read_audit_actor", "switchyard_read_audit", ["actor", "sequence"]),
    ("switchyard_read_audit_time", "switchyard_read_audit", ["time"]),
]
"""Each index: its name, table and columns."""


def upgrade() -> None:
    """Create every read table and its indexes in the store's schema."""
    schema = op.get_context().version_table_schema
    for name, columns in tables().items():
        op.create_table(name, *columns, schema=schema, if_not_exists=True)
    for index, table, indexed in INDEXES:
        op.create_index(index, table, indexed, schema=schema, if_not_exists=True)


def downgrade() -> None:
    """Drop the read tables (their rows too)."""
    schema = op.get_context().version_table_schema
    for name in reversed(list(tables())):
        op.drop_table(name, schema=schema, if_exists=True)
