"""Roll-ups recomputed from the task rows: a plan's counts and status, a tenant's summary.

Never incremented: each is computed afresh from the rows of its tasks, so it is
the same whatever order the events of different aggregates arrived in. The plan
row is locked first (created as a stub if its `Created` has not arrived), so two
transactions that change tasks of one plan recompute it one after the other.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects.postgresql import insert

from switchyard.domain.status import UNFINISHED, TaskStatus, derive_plan_status
from switchyard.projections.tables import audit, plans, tasks, tenants

_FINISHED = frozenset({"COMPLETED", "FAILED", "CANCELLED", "ROLLED_BACK", "ROLLBACK_FAILED"})
_UNFINISHED = frozenset(status.value for status in UNFINISHED)
_WAITING = frozenset({"CREATED", "QUEUED"})


ROLLUP_COLUMNS = (
    tasks.c.status,
    tasks.c.completed_stages,
    tasks.c.total_stages,
    tasks.c.finished_at,
)
"""The task columns a plan's roll-up is made of."""


def recompute_plan(conn: Connection, plan_id: str) -> None:
    """Lock the plan's row, then set its counts, progress and status from its tasks' rows."""
    stub = {"status": "QUEUED", "task_counts": {}, "tasks_total": 0}
    conn.execute(
        insert(plans)
        .values(plan_id=plan_id, stages_done=0, stages_total=0, **stub)
        .on_conflict_do_nothing()
    )
    conn.execute(select(plans.c.plan_id).where(plans.c.plan_id == plan_id).with_for_update())
    rows = conn.execute(select(*ROLLUP_COLUMNS).where(tasks.c.plan_id == plan_id)).all()
    conn.execute(plans.update().where(plans.c.plan_id == plan_id).values(**rollup(rows)))


def rollup(rows: Sequence[Any]) -> dict[str, Any]:
    """A plan's status, counts by status, progress and end, from its tasks' rows (all of
    them, or those one reader may see); the rows hold `ROLLUP_COLUMNS`."""
    counts = Counter(row.status for row in rows)
    finished = [r.finished_at for r in rows if r.status in _FINISHED and r.finished_at]
    done = bool(rows) and len(finished) == len(rows)
    return {
        "status": derive_plan_status(TaskStatus(s) for s in counts.elements())
        if rows
        else "QUEUED",
        "task_counts": dict(sorted(counts.items())),
        "tasks_total": len(rows),
        "stages_done": sum(row.completed_stages for row in rows),
        "stages_total": sum(row.total_stages for row in rows),
        "finished_at": max(finished) if done else None,
    }


def recompute_tenant(conn: Connection, tenant_id: str) -> None:
    """Lock the tenant's row, then set its version and latest task from its tasks' rows,
    and what each of its waiting tasks waits for."""
    conn.execute(insert(tenants).values(tenant_id=tenant_id).on_conflict_do_nothing())
    conn.execute(
        select(tenants.c.tenant_id).where(tenants.c.tenant_id == tenant_id).with_for_update()
    )
    mine = tasks.c.tenant_id == tenant_id
    latest = conn.execute(
        select(tasks).where(mine).order_by(tasks.c.created_at.desc(), tasks.c.task_id.desc())
    ).first()
    switched = conn.execute(
        select(tasks)
        .where(mine & (tasks.c.status == "COMPLETED"))
        .order_by(tasks.c.finished_at.desc(), tasks.c.task_id.desc())
    ).first()
    conn.execute(
        tenants.update()
        .where(tenants.c.tenant_id == tenant_id)
        .values(
            service_type=None if latest is None else latest.service_type,
            latest_task=None if latest is None else latest.task_id,
            latest_task_status=None if latest is None else latest.status,
            version=None if switched is None else switched.target_version,
            switched_by_task=None if switched is None else switched.task_id,
        )
    )
    _set_waiting_for(conn, tenant_id)


def _set_waiting_for(conn: Connection, tenant_id: str) -> None:
    """Each waiting task of the tenant waits for the nearest older unfinished one.

    Tasks are in the order they were recorded: by the sequence of their first event,
    which is the order of their plans (`application.tenant_order`).
    """
    recorded = (
        select(audit.c.sequence)
        .where((audit.c.aggregate_id == tasks.c.task_id) & (audit.c.version == 1))
        .scalar_subquery()
    )
    rows = conn.execute(
        select(tasks.c.task_id, tasks.c.status, tasks.c.waiting_for)
        .where(tasks.c.tenant_id == tenant_id)
        .order_by(recorded, tasks.c.task_id)
    ).all()
    unfinished: str | None = None
    for row in rows:
        waits_for = unfinished if row.status in _WAITING else None
        if waits_for != row.waiting_for:
            conn.execute(
                tasks.update().where(tasks.c.task_id == row.task_id).values(waiting_for=waits_for)
            )
        if row.status in _UNFINISHED:
            unfinished = row.task_id
