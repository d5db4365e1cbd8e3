"""The scheduler's tables in PostgreSQL: plans' limits, tasks' queue state and leases.

`switchyard_queue_plans` and `switchyard_queue_tasks` are written in the same
transaction as the events (see `adapters.event_store`), so they always agree
with the event store. Lease columns (owner, expiry, fence, progress) are
written by claims and heartbeats (`adapters.leases`); a task that leaves the
active statuses loses its lease in the same transaction as the event that
moved it. The unique index on active tenants is the database's own guard for
"one running task per tenant".
"""

from __future__ import annotations

from psycopg import sql

PLANS = "switchyard_queue_plans"
TASKS = "switchyard_queue_tasks"
FENCES = "switchyard_fences"

_DDL = (
    """CREATE TABLE IF NOT EXISTS {schema}.{plans} (
        plan_id uuid PRIMARY KEY,
        max_concurrency integer NOT NULL,
        seq bigserial NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS {schema}.{tasks} (
        task_id uuid PRIMARY KEY,
        plan_id uuid NOT NULL,
        tenant_id text NOT NULL,
        position integer NOT NULL,
        status text NOT NULL,
        version integer NOT NULL,
        needs_worker boolean NOT NULL,
        total_stages integer NOT NULL,
        lease_owner text,
        lease_expires timestamptz,
        fence bigint,
        current_stage text,
        completed_stages integer NOT NULL DEFAULT 0,
        heartbeat_at timestamptz
    )""",
    "CREATE SEQUENCE IF NOT EXISTS {schema}.{fences}",
    """CREATE INDEX IF NOT EXISTS switchyard_queue_tasks_waiting
        ON {schema}.{tasks} (plan_id, position) WHERE needs_worker""",
    """CREATE INDEX IF NOT EXISTS switchyard_queue_tasks_leased
        ON {schema}.{tasks} (plan_id) WHERE lease_owner IS NOT NULL""",
    """CREATE UNIQUE INDEX IF NOT EXISTS switchyard_queue_one_active_task_per_tenant
        ON {schema}.{tasks} (tenant_id) WHERE lease_owner IS NOT NULL""",
)


def names(schema: str) -> dict[str, sql.Composable]:
    """The SQL identifiers of the scheduler's objects in a schema."""
    return {
        "schema": sql.Identifier(schema),
        "plans": sql.Identifier(PLANS),
        "tasks": sql.Identifier(TASKS),
        "fences": sql.Identifier(FENCES),
    }


def rendered(statement: sql.Composable) -> sql.SQL:
    """The statement rendered once, so psycopg's query cache serves every execution.

    (A Composed statement is rendered again on every `execute`, which costs a
    scheduler more CPU than anything else it does.)
    """
    return sql.SQL(statement.as_string(None))


def prepared(template: str, schema: str) -> sql.SQL:
    """A statement template with the schema's names filled in, rendered once."""
    return rendered(sql.SQL(template).format(**names(schema)))


def create_statements(schema: str) -> list[sql.Composed]:
    """The statements that create the scheduler's tables (idempotent)."""
    return [sql.SQL(ddl).format(**names(schema)) for ddl in _DDL]


SELECT_FENCE = "SELECT fence FROM {schema}.{tasks} WHERE task_id = %s FOR UPDATE"
"""The fence of a task's lease, locked until the writing transaction ends."""

UPSERT_PLANS = """
INSERT INTO {schema}.{plans} (plan_id, max_concurrency)
SELECT * FROM unnest(%s::uuid[], %s::integer[])
ON CONFLICT (plan_id) DO NOTHING
"""

UPSERT_TASKS = """
INSERT INTO {schema}.{tasks} AS t
    (task_id, plan_id, tenant_id, position, status, version, needs_worker, total_stages)
SELECT * FROM unnest(
    %s::uuid[], %s::uuid[], %s::text[], %s::integer[], %s::text[], %s::integer[],
    %s::boolean[], %s::integer[])
ON CONFLICT (task_id) DO UPDATE SET
    status = excluded.status,
    version = excluded.version,
    needs_worker = excluded.needs_worker,
    total_stages = excluded.total_stages,
    lease_owner = CASE WHEN excluded.needs_worker THEN t.lease_owner END,
    lease_expires = CASE WHEN excluded.needs_worker THEN t.lease_expires END
WHERE t.version < excluded.version
"""
"""Insert or update tasks; a task that needs no worker any more loses its lease."""
