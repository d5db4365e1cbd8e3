"""The read tables, as SQLAlchemy Core: what SREs query, built from the event stream.

They have a MetaData of their own (`read_metadata`), without a schema: Alembic's
revision 0002 creates them in the event store's schema, next to switchyard's
other tables. Besides the read rows there are two tables of bookkeeping:
`switchyard_read_versions` (per aggregate, the last version applied: an event is
applied only at that version + 1, so applying one twice changes nothing) and
`switchyard_read_held` (events that arrived after a gap in their aggregate's
versions, kept until the gap fills). `switchyard_projector_positions` holds the
projector's next offset per topic partition, written in the transaction of the rows.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

read_metadata = MetaData()
"""Every read table, without a schema: the migration puts them in the store's."""

plans = Table(
    "switchyard_read_plans",
    read_metadata,
    Column("plan_id", Text, primary_key=True),
    Column("name", Text),
    Column("status", Text, nullable=False),
    Column("task_counts", JSONB, nullable=False),
    Column("tasks_total", Integer, nullable=False),
    Column("stages_done", Integer, nullable=False),
    Column("stages_total", Integer, nullable=False),
    Column("max_concurrency", Integer),
    Column("created_by", Text),
    Column("created_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Index("switchyard_read_plans_newest", "created_at", "plan_id"),
    Index("switchyard_read_plans_status", "status", "created_at", "plan_id"),
    Index("switchyard_read_plans_actor", "created_by", "created_at", "plan_id"),
)
"""One row per plan: its status and counts, rolled up from its tasks' rows."""

tasks = Table(
    "switchyard_read_tasks",
    read_metadata,
    Column("task_id", Text, primary_key=True),
    Column("plan_id", Text, nullable=False),
    Column("tenant_id", Text, nullable=False),
    Column("position", Integer, nullable=False),
    Column("service_type", Text, nullable=False),
    Column("target_version", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("current_stage", Text),
    Column("completed_stages", Integer, nullable=False),
    Column("total_stages", Integer, nullable=False),
    Column("pause_requested", Boolean, nullable=False),
    Column("cancel_requested", Boolean, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("failed_stage", Text),
    Column("failure_message", Text),
    Column("has_checkpoint", Boolean, nullable=False),
    Column("owner", Text),
    Column("fence", BigInteger),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("waiting_for", Text),
    Index("switchyard_read_tasks_plan", "plan_id", "position"),
    Index("switchyard_read_tasks_tenant", "tenant_id", "created_at"),
    Index("switchyard_read_tasks_plan_status", "plan_id", "status", "position"),
    Index(
        "switchyard_read_tasks_waiting",
        "tenant_id",
        postgresql_where=text("waiting_for IS NOT NULL"),
    ),
)
"""One row per task: where it is, who holds it, what failed."""

stage_runs = Table(
    "switchyard_read_stage_runs",
    read_metadata,
    Column("task_id", Text, primary_key=True),
    Column("fence", BigInteger, primary_key=True),
    Column("stage_index", Integer, primary_key=True),
    Column("stage_name", Text, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
    Column("outcome", Text),
    Column("failure_type", Text),
    Column("failure_message", Text),
)
"""One row per run of a stage under a fence: when, and how it ended."""

tenants = Table(
    "switchyard_read_tenants",
    read_metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("service_type", Text),
    Column("version", Text),
    Column("switched_by_task", Text),
    Column("latest_task", Text),
    Column("latest_task_status", Text),
    Index("switchyard_read_tenants_version", "version", "tenant_id"),
    Index("switchyard_read_tenants_service_type", "service_type", "tenant_id"),
    Index("switchyard_read_tenants_status", "latest_task_status", "tenant_id"),
)
"""One row per tenant: the version it was last switched to and its latest task."""

audit = Table(
    "switchyard_read_audit",
    read_metadata,
    Column("sequence", BigInteger, primary_key=True, autoincrement=False),
    Column("time", DateTime(timezone=True), nullable=False),
    Column("actor", Text),
    Column("aggregate_type", Text, nullable=False),
    Column("aggregate_id", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("event_type", Text, nullable=False),
    Column("tenant_id", Text),
    Column("plan_id", Text),
    Column("traceparent", Text),
    Column("payload", JSONB, nullable=False),
    Index("switchyard_read_audit_aggregate", "aggregate_id", "sequence"),
    Index("switchyard_read_audit_tenant", "tenant_id", "sequence"),
    Index("switchyard_read_audit_plan", "plan_id", "sequence"),
    Index("switchyard_read_audit_actor", "actor", "sequence"),
    Index("switchyard_read_audit_time", "time"),
    Index("switchyard_read_audit_type", "event_type", "sequence"),
    Index("switchyard_read_audit_kind", "aggregate_type", "event_type", "sequence"),
)
"""One row per event: who did what to which aggregate, and when."""

versions = Table(
    "switchyard_read_versions",
    read_metadata,
    Column("aggregate_id", Text, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("sequence", BigInteger, nullable=False),
)
"""Per aggregate, the last version applied to the read tables."""

held = Table(
    "switchyard_read_held",
    read_metadata,
    Column("aggregate_id", Text, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("sequence", BigInteger, nullable=False),
    Column("event", JSONB, nullable=False),
    Column("held_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
)
"""Events that came after a gap in their aggregate's versions, waiting for it to fill."""

positions = Table(
    "switchyard_projector_positions",
    read_metadata,
    Column("topic", Text, primary_key=True),
    Column("partition", Integer, primary_key=True, autoincrement=False),
    Column("next_offset", BigInteger, nullable=False),
    Column("last_sequence", BigInteger),
    Column("last_time", DateTime(timezone=True)),
    Column("applied_at", DateTime(timezone=True)),
)
"""The projector's next offset per topic partition, committed with the rows, and the
sequence and time of the last event it applied there."""
