"""Roll-ups recomputed from the task rows: a plan's counts and status, a tenant's summary.

Never incremented: each is computed afresh from the rows of its tasks, so it is
the same whatever order the events of different aggregates arrived in. The plan
row is locked first (created as a stub if its `Created` has not arrived), so two
transactions that change tasks of one plan recompute it one after the other.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select

from switchyard.domain.status import UNFINISHED, TaskStatus, derive_plan_status
from switchyard.projections.bulk import Row, among, changed, lock_rows, update_rows
from switchyard.projections.tables import audit, plans, tasks, tenants

_FINISHED = frozenset({"COMPLETED", "FAILED", "CANCELLED", "ROLLED_BACK", "ROLLBACK_FAILED"})
_UNFINISHED = frozenset(status.value for status in UNFINISHED)
_WAITING = frozenset({"CREATED", "QUEUED"})
_EARLIEST = datetime.min.replace(tzinfo=UTC)

STUB_PLAN: Row = {
    "status": "QUEUED",
    "task_counts": {},
    "tasks_total": 0,
    "stages_done": 0,
    "stages_total": 0,
}
"""A plan row's roll-up before any of its tasks' rows exist."""


ROLLUP_COLUMNS = (
    tasks.c.status,
    func.count().label("tasks"),
    func.sum(tasks.c.completed_stages).label("stages_done"),
    func.sum(tasks.c.total_stages).label("stages_total"),
    func.count(tasks.c.finished_at).label("finished"),
    func.max(tasks.c.finished_at).label("last_finished"),
)
"""What a plan's roll-up is made of, per status of its tasks (grouped by status)."""


@dataclass
class Rollups:
    """The roll-ups that changed, to write: plans' rows, tenants' rows, tasks' waits."""

    plans: list[Row] = field(default_factory=list)
    tenants: list[Row] = field(default_factory=list)
    waits: list[Row] = field(default_factory=list)

    def write(self, conn: Connection) -> None:
        """Write them (no statement reads anything: they may be pipelined)."""
        update_rows(conn, plans, ("plan_id",), self.plans)
        update_rows(conn, tenants, ("tenant_id",), self.tenants)
        update_rows(conn, tasks, ("task_id",), self.waits)


def recompute(conn: Connection, plan_ids: Sequence[str], tenant_ids: Sequence[str]) -> Rollups:
    """Lock the plans' rows, then the tenants' (each in key order), and recompute their
    roll-ups from their tasks' rows; what changed."""
    found = Rollups()
    if plan_ids:
        found.plans = _plans(conn, plan_ids)
    if tenant_ids:
        found.tenants, found.waits = _tenants(conn, tenant_ids)
    return found


def _plans(conn: Connection, plan_ids: Sequence[str]) -> list[Row]:
    """Lock the plans' rows; each one's counts, progress and status from its tasks' rows,
    where they changed."""
    current = lock_rows(conn, plans, "plan_id", [{"plan_id": p, **STUB_PLAN} for p in plan_ids])
    groups: dict[str, list[Any]] = defaultdict(list)
    for group in conn.execute(
        select(tasks.c.plan_id, *ROLLUP_COLUMNS)
        .where(among(tasks.c.plan_id, plan_ids))
        .group_by(tasks.c.plan_id, tasks.c.status)
    ):
        groups[group.plan_id].append(group)
    rollups = [{"plan_id": plan_id, **rollup(groups[plan_id])} for plan_id in plan_ids]
    return changed(current, "plan_id", rollups)


def rollup(groups: Sequence[Any]) -> dict[str, Any]:
    """A plan's status, counts by status, progress and end, from its tasks' rows grouped by
    status (all of them, or those one reader may see); the groups hold `ROLLUP_COLUMNS`."""
    counts = {group.status: group.tasks for group in sorted(groups, key=lambda g: g.status)}
    total = sum(counts.values())
    done = total > 0 and all(
        group.status in _FINISHED and group.finished == group.tasks for group in groups
    )
    return {
        "status": derive_plan_status(
            Counter({TaskStatus(s): n for s, n in counts.items()}).elements()
        )
        if total
        else "QUEUED",
        "task_counts": counts,
        "tasks_total": total,
        "stages_done": sum(int(group.stages_done) for group in groups),
        "stages_total": sum(int(group.stages_total) for group in groups),
        "finished_at": max(group.last_finished for group in groups) if done else None,
    }


def _tenants(conn: Connection, tenant_ids: Sequence[str]) -> tuple[list[Row], list[Row]]:
    """Lock the tenants' rows; each one's version and latest task from its tasks' rows,
    where they changed, and what each of its waiting tasks waits for, where that changed."""
    current = lock_rows(conn, tenants, "tenant_id", [{"tenant_id": t} for t in tenant_ids])
    by_tenant: dict[str, list[Any]] = defaultdict(list)
    for row in conn.execute(
        select(
            tasks.c.task_id,
            tasks.c.tenant_id,
            tasks.c.status,
            tasks.c.service_type,
            tasks.c.target_version,
            tasks.c.created_at,
            tasks.c.finished_at,
            tasks.c.waiting_for,
        ).where(among(tasks.c.tenant_id, tenant_ids))
    ):
        by_tenant[row.tenant_id].append(row)
    recorded = _recorded(
        conn, [row for mine in by_tenant.values() if len(mine) > 1 for row in mine]
    )
    summaries, waits = [], []
    for tenant_id in tenant_ids:
        mine = by_tenant[tenant_id]
        summaries.append({"tenant_id": tenant_id, **_summary(mine)})
        waits += _waits(mine, recorded)
    return changed(current, "tenant_id", summaries), waits


def _recorded(conn: Connection, rows: Sequence[Any]) -> dict[str, int]:
    """When each of these tasks was recorded: the sequence of its first event. Asked only
    for tenants with several tasks (one task waits for none), so a batch of new tenants
    asks nothing."""
    if not rows:
        return {}
    first = select(audit.c.aggregate_id, audit.c.sequence).where(
        among(audit.c.aggregate_id, [row.task_id for row in rows]), audit.c.version == 1
    )
    return {row.aggregate_id: row.sequence for row in conn.execute(first)}


def _summary(rows: Sequence[Any]) -> dict[str, Any]:
    """A tenant's service type and latest task (the newest created), and the version its
    newest completed task switched it to."""
    latest = max(rows, key=lambda r: (r.created_at, r.task_id), default=None)
    switched = max(
        (r for r in rows if r.status == "COMPLETED"),
        key=lambda r: (r.finished_at is None, r.finished_at or _EARLIEST, r.task_id),
        default=None,
    )
    return {
        "service_type": None if latest is None else latest.service_type,
        "latest_task": None if latest is None else latest.task_id,
        "latest_task_status": None if latest is None else latest.status,
        "version": None if switched is None else switched.target_version,
        "switched_by_task": None if switched is None else switched.task_id,
    }


def _waits(rows: Sequence[Any], recorded: dict[str, int]) -> list[dict[str, Any]]:
    """Each waiting task of a tenant waits for the nearest older unfinished one: the
    changes to make, as update parameters.

    Tasks are in the order they were recorded (`recorded`: by the sequence of their
    first event), which is the order of their plans (`application.tenant_order`).
    """

    def order(row: Any) -> tuple[bool, int, str]:
        sequence = recorded.get(row.task_id)
        return sequence is None, sequence or 0, row.task_id

    ordered = sorted(rows, key=order)
    unfinished: str | None = None
    updates = []
    for row in ordered:
        waits_for = unfinished if row.status in _WAITING else None
        if waits_for != row.waiting_for:
            updates.append({"task_id": row.task_id, "waiting_for": waits_for})
        if row.status in _UNFINISHED:
            unfinished = row.task_id
    return updates
