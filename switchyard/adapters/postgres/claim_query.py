"""The claim query: which task a scheduler takes next, and the taking of it.

The order is the one the scheduler has always kept: first a task whose lease
expired (a takeover), then an active task whose lease was released (it was
running when its scheduler stopped), then queued tasks in the order their plans
were recorded, and by position within a plan. A task that is not a takeover
must fit its plan's max concurrency, its tenant must not be busy, and no older
task of its tenant may be unfinished.

The queued tasks are found plan by plan (`LATERAL`), walking the plan's waiting
tasks by position and stopping at the first that may run: a claim costs about
the number of tasks running, not the number waiting (a 50,000-tenant plan
would otherwise make every claim scan and sort all of them). The first two
kinds are few and are found by a plain scan.

It runs as the second statement of the claim's transaction, after the claims'
advisory lock (`adapters.postgres.leases`): its snapshot sees every claim
committed before the lock was granted. That transaction pins its plan
(`PINNED_PLAN`).
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from switchyard.adapters.postgres import scheduler_tables

PINNED_PLAN = (
    "SET LOCAL enable_sort = off; SET LOCAL enable_bitmapscan = off; "
    "SET LOCAL enable_hashjoin = off; SET LOCAL enable_seqscan = off"
)
"""Settings of the claim's transaction that pin its plan to the walk described above, by
index, stopping at the first task that may run. Left to its estimates, PostgreSQL
checked every waiting task and sorted them (15-20 ms a claim with a few thousand
waiting, 400 ms with 50,000): a queue's rows change by the second and a big plan's are
not yet analyzed, so its estimates are off in the way that makes that look cheap."""

_MAY_RUN = """
    NOT EXISTS (
        SELECT 1 FROM {schema}.{tasks} o
        WHERE o.tenant_id = t.tenant_id AND o.lease_owner IS NOT NULL)
    AND NOT EXISTS (
        SELECT 1 FROM {schema}.{tasks} o
        JOIN {schema}.{plans} op ON op.plan_id = o.plan_id
        WHERE o.tenant_id = t.tenant_id AND op.seq < p.seq
          AND o.status IN ({unfinished}))
"""
"""The tenant is not busy, and none of its older tasks is unfinished."""

CLAIM = f"""
WITH leased AS (
    SELECT plan_id, count(*) AS leased FROM {{schema}}.{{tasks}}
    WHERE lease_owner IS NOT NULL GROUP BY plan_id
), candidate AS (
    (SELECT t.task_id, t.lease_owner IS NOT NULL AS takeover
     FROM {{schema}}.{{tasks}} t
     JOIN {{schema}}.{{plans}} p ON p.plan_id = t.plan_id
     LEFT JOIN leased b ON b.plan_id = t.plan_id
     WHERE t.needs_worker
       AND (t.lease_owner IS NOT NULL OR t.status <> 'QUEUED')
       AND (t.lease_owner IS NULL OR t.lease_expires < now())
       AND (t.lease_owner IS NOT NULL OR (
            coalesce(b.leased, 0) < p.max_concurrency AND {_MAY_RUN}))
     ORDER BY t.lease_owner IS NULL, t.status = 'QUEUED', p.seq, t.position
     LIMIT 1)
    UNION ALL
    (SELECT q.task_id, false
     FROM {{schema}}.{{plans}} p
     LEFT JOIN leased b ON b.plan_id = p.plan_id
     CROSS JOIN LATERAL (
        SELECT t.task_id FROM {{schema}}.{{tasks}} t
        WHERE t.plan_id = p.plan_id AND t.needs_worker
          AND t.lease_owner IS NULL AND t.status = 'QUEUED' AND {_MAY_RUN}
        ORDER BY t.position
        LIMIT 1) q
     WHERE coalesce(b.leased, 0) < p.max_concurrency
     ORDER BY p.seq
     LIMIT 1)
    LIMIT 1
)
UPDATE {{schema}}.{{tasks}} t
SET lease_owner = %(owner)s, lease_expires = now() + make_interval(secs => %(ttl)s),
    fence = nextval('{{schema_name}}.{{fences_name}}'), heartbeat_at = now()
FROM candidate c
WHERE t.task_id = c.task_id
RETURNING t.task_id, t.fence, c.takeover
"""
"""Take the next task that may run (see the module docstring): its id, new fence, and
whether it is a takeover; no row if none may run."""


def claim_statement(schema: str) -> sql.SQL:
    """`CLAIM` for the scheduler's tables in `schema`, rendered once."""
    ids: dict[str, Any] = {
        **scheduler_tables.names(schema),
        "schema_name": sql.SQL(schema),
        "fences_name": sql.SQL(scheduler_tables.FENCES),
        "unfinished": sql.SQL(scheduler_tables.UNFINISHED_SQL),
    }
    return scheduler_tables.rendered(sql.SQL(CLAIM).format(**ids))
