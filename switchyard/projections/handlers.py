"""Event -> row values: what one event writes in the read rows, as plain dicts.

Dispatch is a dict by event name. Handlers only give the rows the event itself
changes (a task's row, a stage run or a stage's undo, an audit row); they write
nothing. `projections.batch` folds a batch's events over the rows it loaded and
writes the result in a few statements. The roll-ups (a plan's counts and status,
a tenant's version and latest task) are recomputed from the task rows by
`projections.rollups`, never incremented, so they come out the same whatever
order different aggregates' events arrive in. Idempotence is by (aggregate id,
version): see `projections.apply`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from switchyard.projections.bulk import Row
from switchyard.projections.events import ProjectedEvent

_TaskValues = Callable[[ProjectedEvent, Row], Row]
"""(event, the task's row before it) -> the columns the event sets."""

STAGE_EVENTS = frozenset(
    {
        "StageStarted",
        "StageCompleted",
        "StageFailed",
        "Claimed",
        "StageRolledBack",
        "RollbackFailed",
    }
)
"""Task events that write a stage run (`projections.batch` loads the task's runs for them)."""

UNDO_EVENTS = frozenset({"StageRolledBack", "RollbackFailed"})
"""Task events that record a stage's undo, which starts at the task's previous event."""


def _status(status: str, **more: Any) -> _TaskValues:
    return lambda event, row: {"status": status, **more}


def _started(e: ProjectedEvent, row: Row) -> Row:
    p = e.payload
    return {
        "status": "RUNNING",
        "owner": p["owner"],
        "fence": p["fence"],
        "attempt": p["attempt"],
        "total_stages": p["total_stages"],
        "started_at": row["started_at"] or e.time,
        "finished_at": None,
        "waiting_for": None,
    }


def _retry(e: ProjectedEvent, row: Row) -> Row:
    values: Row = {
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


def _done(count: int) -> Row:
    return {"completed_stages": count, "has_checkpoint": count > 0}


TASK_VALUES: Mapping[str, _TaskValues] = {
    "Queued": _status("QUEUED"),
    "PauseRequested": lambda e, row: {"pause_requested": True},
    "Paused": _status("PAUSED", pause_requested=False, owner=None),
    "Resumed": _status("QUEUED"),
    "CancelRequested": lambda e, row: {"cancel_requested": True},
    "Cancelled": lambda e, row: {
        "status": "CANCELLED",
        "cancel_requested": False,
        "pause_requested": False,
        "owner": None,
        "finished_at": e.time,
    },
    "Superseded": lambda e, row: {"status": "CANCELLED", "finished_at": e.time},
    "RetryStarted": _retry,
    "ProgressReported": lambda e, row: _done(len(e.payload["completed_stages"])),
    "RollingBack": lambda e, row: {"status": "ROLLING_BACK", "finished_at": None},
    "StageRolledBack": lambda e, row: {
        "completed_stages": row["completed_stages"] - 1,
        "has_checkpoint": row["completed_stages"] > 1,
    },
    "RolledBack": lambda e, row: {
        "status": "ROLLED_BACK",
        "owner": None,
        "current_stage": None,
        "finished_at": e.time,
    },
    "RollbackFailed": lambda e, row: {
        "status": "ROLLBACK_FAILED",
        "failure_message": e.payload["failure"]["message"],
        "owner": None,
        "finished_at": e.time,
    },
    "Started": _started,
    "Claimed": lambda e, row: {"owner": e.payload["owner"], "fence": e.payload["fence"]},
    "StageStarted": lambda e, row: {"current_stage": e.payload["stage_name"]},
    "StageCompleted": lambda e, row: {
        "current_stage": None,
        "completed_stages": row["completed_stages"] + 1,
        "has_checkpoint": True,
    },
    "StageFailed": lambda e, row: {
        "current_stage": None,
        "failed_stage": e.payload["stage_name"],
        "failure_message": e.payload["failure"]["message"],
    },
    "Failed": lambda e, row: {
        "status": "FAILED",
        "pause_requested": False,
        "cancel_requested": False,
        "owner": None,
        "finished_at": e.time,
    },
    "Completed": lambda e, row: {
        "status": "COMPLETED",
        "pause_requested": False,
        "cancel_requested": False,
        "owner": None,
        "failure_message": None,
        "finished_at": e.time,
        **_done(len(e.payload["completed_stages"])),
    },
    "RetryCompleted": lambda e, row: {},
}
"""Per task event after `Created`, the values it sets on the task's row."""


def audit_row(e: ProjectedEvent) -> Row:
    """The event's audit row."""
    return {
        "sequence": e.sequence,
        "time": e.time,
        "actor": e.actor,
        "aggregate_type": e.aggregate_type,
        "aggregate_id": e.aggregate_id,
        "version": e.version,
        "event_type": e.name,
        "tenant_id": e.tenant_id,
        "plan_id": e.plan_id,
        "traceparent": e.traceparent,
        "payload": dict(e.payload),
    }


def plan_created(e: ProjectedEvent) -> Row:
    """What a plan's `Created` sets on its row (which a roll-up may have made already)."""
    p = e.payload
    return {
        "plan_id": e.aggregate_id,
        "name": p["name"],
        "max_concurrency": p["max_concurrency"],
        "created_by": p["actor"],
        "created_at": e.time,
    }


def task_created(e: ProjectedEvent) -> Row:
    """A task's row as its `Created` makes it."""
    p = e.payload
    return {
        "task_id": e.aggregate_id,
        "plan_id": p["plan_id"],
        "tenant_id": p["tenant_id"],
        "position": p["position"],
        "service_type": p["service_type"],
        "target_version": p["target_version"],
        "status": "CREATED",
        "current_stage": None,
        "completed_stages": 0,
        "total_stages": len(p["stages"]),
        "pause_requested": False,
        "cancel_requested": False,
        "attempt": 1,
        "failed_stage": None,
        "failure_message": None,
        "has_checkpoint": False,
        "owner": None,
        "fence": None,
        "created_at": e.time,
        "started_at": None,
        "finished_at": None,
        "waiting_for": None,
    }


def stage_started(e: ProjectedEvent, attempt: int) -> Row:
    """The run a `StageStarted` opens, under the task's attempt at the time."""
    p = e.payload
    return {
        "task_id": e.aggregate_id,
        "fence": p["fence"],
        "stage_index": p["index"],
        "stage_name": p["stage_name"],
        "attempt": attempt,
        "started_at": e.time,
        "ended_at": None,
        "outcome": None,
        "failure_type": None,
        "failure_message": None,
    }


def stage_undone(e: ProjectedEvent, attempt: int, previous: Any) -> Row:
    """A run of a stage's undo: from the task's event before it (`previous`, its time, or
    None) to this one.

    The undo of a stage records only its end, so its start is the time of the
    task's previous event (the rollback's claim, or the undo of the stage after it).
    """
    p = e.payload
    failure = p.get("failure") or {}
    return {
        **stage_started(e, attempt),
        "started_at": previous or e.time,
        "ended_at": e.time,
        "outcome": "ROLLED_BACK" if e.name == "StageRolledBack" else "ROLLBACK_FAILED",
        "failure_type": failure.get("type"),
        "failure_message": failure.get("message"),
    }


def ends_run(e: ProjectedEvent, run: Row) -> Row | None:
    """What a stage's end (completed, failed, or interrupted by a new claim) sets on the
    open run `run` of the event's task, or None if the event does not end that run."""
    p = e.payload
    if run["ended_at"] is not None:
        return None
    if e.name == "Claimed":
        if run["fence"] != p["previous_fence"]:
            return None
        return {"ended_at": e.time, "outcome": "INTERRUPTED"}
    index = p["outcome"]["index"] if e.name == "StageCompleted" else p["index"]
    if (run["fence"], run["stage_index"]) != (p["fence"], index):
        return None
    failure = p.get("failure") or {}
    return {
        "ended_at": e.time,
        "outcome": run["outcome"] or e.name[5:].upper(),
        "failure_type": failure.get("type"),
        "failure_message": failure.get("message"),
    }
