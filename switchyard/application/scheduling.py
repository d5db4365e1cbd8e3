"""What the scheduler's tables must know of each saved aggregate.

Every save hands these rows to the event store, which writes them in the same
transaction as the events: the scheduler's tables can never disagree with the
events, even after a crash, and scheduling never waits for Kafka or a read model.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from switchyard.domain.plan import Plan
from switchyard.domain.status import TaskStatus
from switchyard.domain.task import Task

ACTIVE = frozenset({TaskStatus.RUNNING, TaskStatus.ROLLING_BACK})
"""Statuses in which a worker holds (or must take over) the task."""


@dataclass(frozen=True)
class PlanRow:
    """A plan as the scheduler sees it: its concurrency limit."""

    plan_id: UUID
    max_concurrency: int


@dataclass(frozen=True)
class TaskRow:
    """A task as the scheduler sees it: where it queues and whether it needs a worker."""

    task_id: UUID
    plan_id: UUID
    tenant_id: str
    position: int
    status: TaskStatus
    version: int
    total_stages: int

    @property
    def needs_worker(self) -> bool:
        """Whether a worker should run it (queued) or keep running it (active)."""
        return self.status == TaskStatus.QUEUED or self.status in ACTIVE


def scheduling_rows(aggregates: Iterable[Any]) -> list[PlanRow | TaskRow]:
    """The rows for the plans and tasks among the aggregates being saved."""
    rows: list[PlanRow | TaskRow] = []
    for aggregate in aggregates:
        if isinstance(aggregate, Plan):
            rows.append(PlanRow(aggregate.id, aggregate.max_concurrency))
        elif isinstance(aggregate, Task):
            rows.append(
                TaskRow(
                    task_id=aggregate.id,
                    plan_id=aggregate.plan_id,
                    tenant_id=aggregate.tenant_id,
                    position=aggregate.position,
                    status=TaskStatus(aggregate.status),
                    version=aggregate.version,
                    total_stages=aggregate.total_stages,
                )
            )
    return rows
