"""What the queries answer: frozen views of tasks and plans, built from aggregates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from switchyard.domain.plan import Plan
from switchyard.domain.status import PlanStatus, TaskStatus, derive_plan_status
from switchyard.domain.task import Task


@dataclass(frozen=True)
class TaskRef:
    """Which task of which plan."""

    task_id: UUID
    plan_id: UUID


@dataclass(frozen=True)
class TaskView:
    """A task's status, progress and flags, as SREs ask for them."""

    task_id: UUID
    plan_id: UUID
    tenant_id: str
    position: int
    service_type: str
    target_version: str
    status: TaskStatus
    current_stage: str | None
    completed_stages: tuple[str, ...]
    total_stages: int
    stage_names: tuple[str, ...]
    pause_requested: bool
    cancel_requested: bool
    has_checkpoint: bool
    attempt: int
    owner: str | None
    fence: int | None
    failed_stage: str | None
    message: str
    version: int
    waiting_for: TaskRef | None = None
    """The older task of the tenant this one waits for (asked of one task; plans leave it out)."""


@dataclass(frozen=True)
class PlanView:
    """A plan's derived status, its limit and its tasks in FIFO order."""

    plan_id: UUID
    name: str
    status: PlanStatus
    max_concurrency: int
    created_by: str
    created_on: datetime
    tasks: tuple[TaskView, ...]

    @property
    def task_count(self) -> int:
        """How many tasks the plan has."""
        return len(self.tasks)

    @property
    def progress(self) -> tuple[int, int]:
        """Completed stages and total stages, over all tasks."""
        done = sum(len(t.completed_stages) for t in self.tasks)
        return done, sum(t.total_stages for t in self.tasks)


@dataclass(frozen=True)
class HistoryEntry:
    """One recorded event of an aggregate: its version, type, time and fields."""

    version: int
    type: str
    timestamp: datetime
    fields: dict[str, Any]


def task_ref(task: Task) -> TaskRef:
    """Name a task and its plan."""
    return TaskRef(task_id=task.id, plan_id=task.plan_id)


def task_view(task: Task, waiting_for: TaskRef | None = None) -> TaskView:
    """Describe a task (and the older task it waits for, when known)."""
    current = None if task.current_stage is None else task.stages[task.current_stage].name
    return TaskView(
        task_id=task.id,
        plan_id=task.plan_id,
        tenant_id=task.tenant_id,
        position=task.position,
        service_type=task.service_type,
        target_version=task.target_version,
        status=TaskStatus(task.status),
        current_stage=current,
        completed_stages=tuple(o.name for o in task.completed),
        total_stages=task.total_stages,
        stage_names=tuple(s.name for s in task.stages),
        pause_requested=task.pause_requested,
        cancel_requested=task.cancel_requested,
        has_checkpoint=task.has_checkpoint,
        attempt=task.attempt,
        owner=task.owner,
        fence=task.fence,
        failed_stage=task.failed_stage,
        message=task.message,
        version=task.version,
        waiting_for=waiting_for,
    )


def plan_view(plan: Plan, tasks: Sequence[Task]) -> PlanView:
    """Describe a plan from its tasks."""
    views = tuple(sorted((task_view(t) for t in tasks), key=lambda v: v.position))
    return PlanView(
        plan_id=plan.id,
        name=plan.name,
        status=derive_plan_status(v.status for v in views),
        max_concurrency=plan.max_concurrency,
        created_by=plan.created_by,
        created_on=plan.created_on,
        tasks=views,
    )


_ENVELOPE = {"originator_id", "originator_version", "timestamp", "originator_topic"}


def history_entry(domain_event: Any) -> HistoryEntry:
    """Describe one stored event."""
    fields = {k: v for k, v in vars(domain_event).items() if k not in _ENVELOPE}
    return HistoryEntry(
        version=domain_event.originator_version,
        type=type(domain_event).__name__,
        timestamp=domain_event.timestamp,
        fields=fields,
    )
