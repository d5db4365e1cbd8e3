"""The scheduler's tables in PostgreSQL: plans' limits, tasks' queue state and leases.

`switchyard_queue_plans` and `switchyard_queue_tasks` are written in the same
transaction as the events (see `adapters.postgres.event_store`), so they always agree
with the event store. Lease columns (owner, expiry, fence, progress) are
written by claims and heartbeats (`adapters.postgres.leases`); a task that leaves the
active statuses loses its lease in the same transaction as the event that
moved it. The unique index on active tenants is the database's own guard for
"one running task per tenant"; the index on unfinished tasks serves the rule
"a tenant's tasks run in the order their plans were recorded" (`adapters.postgres.leases`).
Alembic's migrations create these objects (`adapters.postgres.tables` describes them);
this module holds the SQL run against them.
"""

from __future__ import annotations

from psycopg import sql

from switchyard.domain.status import UNFINISHED

PLANS = "switchyard_queue_plans"
TASKS = "switchyard_queue_tasks"
FENCES = "switchyard_fences"

CLAIM_LOCK = 0x5357_4954_4348  # "SWITCH"
"""The advisory lock that serialises claims, and the saves that must not race them."""

UNFINISHED_SQL = ", ".join(f"'{status}'" for status in sorted(UNFINISHED))
"""The unfinished statuses as an SQL list: a task in one of them holds back newer ones."""


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


LOCK_FENCES = """
SELECT task_id, fence FROM {schema}.{tasks} WHERE task_id = ANY(%s::uuid[])
ORDER BY task_id FOR UPDATE
"""
"""The tasks' lease fences, their rows locked in task-id order until the transaction ends."""

SELECT_SUPERSEDING = """
SELECT t.task_id, n.task_id AS newer_task_id, n.plan_id AS newer_plan_id
FROM {schema}.{tasks} t
JOIN {schema}.{plans} tp ON tp.plan_id = t.plan_id
JOIN {schema}.{tasks} n ON n.tenant_id = t.tenant_id
JOIN {schema}.{plans} np ON np.plan_id = n.plan_id
WHERE t.task_id = ANY(%s) AND np.seq > tp.seq AND n.fence IS NOT NULL
ORDER BY np.seq
LIMIT 1
"""
"""Of the given tasks, one with a newer task of its tenant that a scheduler has claimed
(it holds a fence), and that newer task."""

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
