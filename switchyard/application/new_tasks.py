"""A plan's new task and its tenant's new task list, as their first events' records.

`Task(...)` then `queue()`, and `TenantTasks(tenant_id)` then `assign()`,
record these very events, but run the library's command machinery for each
(argument binding, an event object and a mutation per event), which a plan of
tens of thousands of tenants pays a hundred thousand times. A new task has no
state to check: it is always created and then queued, and a tenant's new list
always takes its first task. So a big plan writes the events' records
directly: each event's class topic and its fields in the class's order, as
the mapper would read them from the event object. Unit tests check that the
records store as the commands' events store and replay to the commands'
aggregates.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.utils import get_topic, resolve_topic

from switchyard.domain.task import Task
from switchyard.domain.tenant import TenantTasks, tenant_tasks_id

_TASK = get_topic(Task)
_TENANT_TASKS = get_topic(TenantTasks)
# The event classes the `@event` decorators made (mypy does not see all of them).
_CREATED = get_topic(Task.Created)
_QUEUED = get_topic(Task.Queued)  # type: ignore[attr-defined]
_REGISTERED = get_topic(TenantTasks.Registered)  # type: ignore[attr-defined]
_ASSIGNED = get_topic(TenantTasks.TaskAssigned)  # type: ignore[attr-defined]


class EventRecord(NamedTuple):
    """An event as the mapper sees it: its aggregate and version, its class, its fields."""

    originator_id: UUID
    originator_version: int
    topic: str
    state: dict[str, Any]

    def event(self) -> DomainEventProtocol[UUID]:
        """The event object itself (for stores that take events, and for tests)."""
        cls = resolve_topic(self.topic)
        event: DomainEventProtocol[UUID] = cls(
            originator_id=self.originator_id,
            originator_version=self.originator_version,
            **self.state,
        )
        return event


def queued_task_events(
    task_id: UUID,
    plan_id: UUID,
    tenant_id: str,
    position: int,
    service_type: str,
    target_version: str,
    stages: Sequence[Any],
    actor: str,
    timestamp: datetime,
) -> tuple[EventRecord, EventRecord]:
    """The events of `Task(...)` then `queue(actor)`: the task created, then queued."""
    created = {
        "timestamp": timestamp,
        "originator_topic": _TASK,
        "plan_id": plan_id,
        "tenant_id": tenant_id,
        "position": position,
        "service_type": service_type,
        "target_version": target_version,
        "stages": stages,
        "actor": actor,
    }
    queued = {"timestamp": timestamp, "actor": actor}
    return EventRecord(task_id, 1, _CREATED, created), EventRecord(task_id, 2, _QUEUED, queued)


def first_assignment_events(
    tenant_id: str, task_id: UUID, plan_id: UUID, timestamp: datetime
) -> tuple[EventRecord, EventRecord]:
    """The events of `TenantTasks(tenant_id)` then `assign(task_id, plan_id)`."""
    list_id = tenant_tasks_id(tenant_id)
    registered = {"timestamp": timestamp, "originator_topic": _TENANT_TASKS, "tenant_id": tenant_id}
    assigned = {"timestamp": timestamp, "task_id": task_id, "plan_id": plan_id}
    return (
        EventRecord(list_id, 1, _REGISTERED, registered),
        EventRecord(list_id, 2, _ASSIGNED, assigned),
    )
