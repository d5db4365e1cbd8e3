"""Event -> row changes: each handler turns one event into SQLAlchemy Core statements.

Dispatch is a dict by (aggregate type, event name). Handlers only write the rows
the event itself changes (a task's row, a stage run or a stage's undo, an audit
row); the roll-ups
(a plan's counts and status, a tenant's version and latest task) are recomputed
from the task rows by `projections.rollups`, never incremented, so they come
out the same whatever order different aggregates' events arrive in.
Idempotence is by (aggregate id, version): see `projections.apply`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Executable, case, func, select
from sqlalchemy.dialects.postgresql import insert

from switchyard.projections.events import ProjectedEvent
from switchyard.projections.tables import audit, plans, stage_runs, tasks, tenants

Changes = list[Executable]
"""The statements one event makes, run in order."""

_TaskValues = Callable[[ProjectedEvent], Mapping[str, Any]]


def _status(status: str, **more: Any) -> _TaskValues:
    return lambda event: {"status": status, **more}


def _started(e: ProjectedEvent) -> Mapping[str, Any]:
    p = e.payload
    return {
        "status": "RUNNING",
        "owner": p["owner"],
        "fence": p["fence"],
        "attempt": p["attempt"],
        "total_stages": p["total_stages"],
        "started_at": func.coalesce(tasks.c.started_at, e.time),
        "finished_at": None,
        "waiting_for": None,
    }


def _retry(e: ProjectedEvent) -> Mapping[str, Any]:
    values: dict[str, Any] = {
        "status": "QUEUED",
        "attempt": e.payload["attempt"],
        "failed_stage": None,
        "failure_message": None,
        "started_at": None,
        "finished_at": None,
    }
    if not e.payload["from_checkpoint"]:
        values.update(completed_stages=0, has_checkpoint=False)
    return values


def _done(count: int) -> Mapping[str, Any]:
    return {"completed_stages": count, "has_checkpoint": count > 0}


TASK_VALUES: Mapping[str, _TaskValues] = {
    "Queued": _status("QUEUED"),
    "PauseRequested": lambda e: {"pause_requested": True},
    "Paused": _status("PAUSED", pause_requested=False, owner=None),
    "Resumed": _status("QUEUED"),
    "CancelRequested": lambda e: {"cancel_requested": True},
    "Cancelled": lambda e: {
        "status": "CANCELLED",
        "cancel_requested": False,
        "pause_requested": False,
        "owner": None,
        "finished_at": e.time,
    },
    "Superseded": lambda e: {"status": "CANCELLED", "finished_at": e.time},
    "RetryStarted": _retry,
    "ProgressReported": lambda e: _done(len(e.payload["completed_stages"])),
    "RollingBack": lambda e: {"status": "ROLLING_BACK", "finished_at": None},
    "StageRolledBack": lambda e: {
        "completed_stages": tasks.c.completed_stages - 1,
        "has_checkpoint": tasks.c.completed_stages > 1,
    },
    "RolledBack": lambda e: {
        "status": "ROLLED_BACK",
        "owner": None,
        "current_stage": None,
        "finished_at": e.time,
    },
    "RollbackFailed": lambda e: {
        "status": "ROLLBACK_FAILED",
        "failure_message": e.payload["failure"]["message"],
        "owner": None,
        "finished_at": e.time,
    },
    "Started": _started,
    "Claimed": lambda e: {"owner": e.payload["owner"], "fence": e.payload["fence"]},
    "StageStarted": lambda e: {"current_stage": e.payload["stage_name"]},
    "StageCompleted": lambda e: {
        "current_stage": None,
        "completed_stages": tasks.c.completed_stages + 1,
        "has_checkpoint": True,
    },
    "StageFailed": lambda e: {
        "current_stage": None,
        "failed_stage": e.payload["stage_name"],
        "failure_message": e.payload["failure"]["message"],
    },
    "Failed": lambda e: {
        "status": "FAILED",
        "pause_requested": False,
        "cancel_requested": False,
        "owner": None,
        "finished_at": e.time,
    },
    "Completed": lambda e: {
        "status": "COMPLETED",
        "pause_requested": False,
        "cancel_requested": False,
        "owner": None,
        "failure_message": None,
        "finished_at": e.time,
        **_done(len(e.payload["completed_stages"])),
    },
    "RetryCompleted": lambda e: {},
}
"""Per task event after `Created`, the values it sets on the task's row."""


def changes(event: ProjectedEvent) -> Changes:
    """The row changes of one event: its audit row, then its aggregate's own rows."""
    made: Changes = [_audit_row(event)]
    if event.aggregate_type == "Task":
        made += _task_changes(event)
    elif event.aggregate_type == "Plan" and event.name == "Created":
        made.append(_plan_created(event))
    elif event.aggregate_type == "TenantTasks" and event.name == "Registered":
        tenant = event.payload["tenant_id"]
        made.append(insert(tenants).values(tenant_id=tenant).on_conflict_do_nothing())
    return made


def _audit_row(e: ProjectedEvent) -> Executable:
    return (
        insert(audit)
        .values(
            sequence=e.sequence,
            time=e.time,
            actor=e.actor,
            aggregate_type=e.aggregate_type,
            aggregate_id=e.aggregate_id,
            version=e.version,
            event_type=e.name,
            tenant_id=e.tenant_id,
            plan_id=e.plan_id,
            traceparent=e.traceparent,
            payload=dict(e.payload),
        )
        .on_conflict_do_nothing()
    )


def _plan_created(e: ProjectedEvent) -> Executable:
    p = e.payload
    values = {
        "name": p["name"],
        "max_concurrency": p["max_concurrency"],
        "created_by": p["actor"],
        "created_at": e.time,
    }
    return (
        insert(plans)
        .values(
            plan_id=e.aggregate_id,
            status="QUEUED",
            task_counts={},
            tasks_total=0,
            stages_done=0,
            stages_total=0,
            **values,
        )
        .on_conflict_do_update(index_elements=[plans.c.plan_id], set_=values)
    )


def _task_changes(e: ProjectedEvent) -> Changes:
    if e.name == "Created":
        return [_task_created(e)]
    values = TASK_VALUES[e.name](e)
    row = tasks.c.task_id == e.aggregate_id
    made: Changes = [tasks.update().where(row).values(**values)] if values else []
    if e.name == "StageStarted":
        made.append(_stage_started(e))
    elif e.name in ("StageCompleted", "StageFailed", "Claimed"):
        made.append(_stage_ended(e))
    elif e.name in ("StageRolledBack", "RollbackFailed"):
        made.append(_stage_undone(e))
    return made


def _task_created(e: ProjectedEvent) -> Executable:
    p = e.payload
    return insert(tasks).values(
        task_id=e.aggregate_id,
        plan_id=p["plan_id"],
        tenant_id=p["tenant_id"],
        position=p["position"],
        service_type=p["service_type"],
        target_version=p["target_version"],
        status="CREATED",
        completed_stages=0,
        total_stages=len(p["stages"]),
        pause_requested=False,
        cancel_requested=False,
        attempt=1,
        has_checkpoint=False,
        created_at=e.time,
    )


def _stage_started(e: ProjectedEvent) -> Executable:
    p = e.payload
    attempt = tasks.select().with_only_columns(tasks.c.attempt)
    return (
        insert(stage_runs)
        .values(
            task_id=e.aggregate_id,
            fence=p["fence"],
            stage_index=p["index"],
            stage_name=p["stage_name"],
            attempt=attempt.where(tasks.c.task_id == e.aggregate_id).scalar_subquery(),
            started_at=e.time,
        )
        .on_conflict_do_nothing()
    )


def _stage_undone(e: ProjectedEvent) -> Executable:
    """A run of a stage's undo: from the task's event before it to this one.

    The undo of a stage records only its end, so its start is the time of the
    task's previous event (the rollback's claim, or the undo of the stage after it).
    """
    p = e.payload
    mine = audit.c.aggregate_id == e.aggregate_id
    previous = select(func.max(audit.c.time)).where(mine & (audit.c.version < e.version))
    attempt = select(tasks.c.attempt).where(tasks.c.task_id == e.aggregate_id)
    failure = p.get("failure") or {}
    return (
        insert(stage_runs)
        .values(
            task_id=e.aggregate_id,
            fence=p["fence"],
            stage_index=p["index"],
            stage_name=p["stage_name"],
            attempt=attempt.scalar_subquery(),
            started_at=func.coalesce(previous.scalar_subquery(), e.time),
            ended_at=e.time,
            outcome="ROLLED_BACK" if e.name == "StageRolledBack" else "ROLLBACK_FAILED",
            failure_type=failure.get("type"),
            failure_message=failure.get("message"),
        )
        .on_conflict_do_nothing()
    )


def _stage_ended(e: ProjectedEvent) -> Executable:
    """The open run of the task's stage gets its end: completed, failed or interrupted."""
    p = e.payload
    runs = stage_runs.c
    if e.name == "Claimed":
        where = runs.fence == p["previous_fence"]
        values: dict[str, Any] = {"outcome": "INTERRUPTED"}
    else:
        index = p["outcome"]["index"] if e.name == "StageCompleted" else p["index"]
        where = (runs.fence == p["fence"]) & (runs.stage_index == index)
        failure = p.get("failure") or {}
        values = {
            "outcome": case((runs.outcome.is_(None), e.name[5:].upper()), else_=runs.outcome),
            "failure_type": failure.get("type"),
            "failure_message": failure.get("message"),
        }
    open_run = (runs.task_id == e.aggregate_id) & where & runs.ended_at.is_(None)
    return stage_runs.update().where(open_run).values(ended_at=e.time, **values)
