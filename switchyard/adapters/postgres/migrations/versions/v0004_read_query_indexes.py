"""Indexes for the read queries that had none: plans by who created them, a plan's
tasks by status, the tasks that wait (by tenant, for the blocked tenants), and tenants
by version, service type and their latest task's status. Each keeps its query's order
(newest plan, position, tenant id) so a page reads only its own rows.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

INDEXES = (
    (
        "switchyard_read_plans_actor",
        "switchyard_read_plans",
        ["created_by", "created_at", "plan_id"],
    ),
    (
        "switchyard_read_tasks_plan_status",
        "switchyard_read_tasks",
        ["plan_id", "status", "position"],
    ),
    ("switchyard_read_tenants_version", "switchyard_read_tenants", ["version", "tenant_id"]),
    (
        "switchyard_read_tenants_service_type",
        "switchyard_read_tenants",
        ["service_type", "tenant_id"],
    ),
    (
        "switchyard_read_tenants_status",
        "switchyard_read_tenants",
        ["latest_task_status", "tenant_id"],
    ),
)
"""Each plain index: its name, table and columns."""

WAITING = "switchyard_read_tasks_waiting"
"""The partial index of the tasks that wait for an older one, by tenant."""


def upgrade() -> None:
    """Create the indexes."""
    schema = op.get_context().version_table_schema
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, schema=schema, if_not_exists=True)
    op.create_index(
        WAITING,
        "switchyard_read_tasks",
        ["tenant_id"],
        schema=schema,
        postgresql_where=sa.text("waiting_for IS NOT NULL"),
        if_not_exists=True,
    )


def downgrade() -> None:
    """Drop them."""
    schema = op.get_context().version_table_schema
    op.drop_index(WAITING, "switchyard_read_tasks", schema=schema, if_exists=True)
    for name, table, _ in INDEXES:
        op.drop_index(name, table, schema=schema, if_exists=True)
