"""A plan's new task and its tenant's new task list, as their first events.

`Task(...)` then `queue()`, and `TenantTasks(tenant_id)` then `assign()`,
record these very events, but run the library's command machinery for each
(argument binding, a mutation per event), which a plan of tens of thousands
of tenants pays a hundred thousand times. A new task has no state to check:
it is always created and then queued, and a tenant's new list always takes
its first task. So a big plan makes the events directly, with the aggregates'
own event classes, and replaying them gives the aggregates the commands give
(a unit test compares the two).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEvent
from eventsourcing.utils import get_topic

from switchyard.domain.task import Task
from switchyard.domain.tenant import TenantTasks, tenant_tasks_id

_TASK_TOPIC = get_topic(Task)
_TENANT_TASKS_TOPIC = get_topic(TenantTasks)
# The event classes the `@event` decorators made (mypy does not see them).
_CREATED: Any = Task.Created
_QUEUED: Any = Task.Queued  # type: ignore[attr-defined]
_REGISTERED: Any = TenantTasks.Registered  # type: ignore[attr-defined]
_ASSIGNED: Any = TenantTasks.TaskAssigned  # type: ignore[attr-defined]


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
) -> tuple[DomainEvent, DomainEvent]:
    """The events of `Task(...)` then `queue(actor)`: the task created, then queued."""
    created = _CREATED(
        originator_id=task_id,
        originator_version=1,
        timestamp=timestamp,
        originator_topic=_TASK_TOPIC,
        plan_id=plan_id,
        tenant_id=tenant_id,
        position=position,
        service_type=service_type,
        target_version=target_version,
        stages=stages,
        actor=actor,
    )
    queued = _QUEUED(originator_id=task_id, originator_version=2, timestamp=timestamp, actor=actor)
    return created, queued


def first_assignment_events(
    tenant_id: str, task_id: UUID, plan_id: UUID, timestamp: datetime
) -> tuple[DomainEvent, DomainEvent]:
    """The events of `TenantTasks(tenant_id)` then `assign(task_id, plan_id)`."""
    list_id = tenant_tasks_id(tenant_id)
    registered = _REGISTERED(
        originator_id=list_id,
        originator_version=1,
        timestamp=timestamp,
        originator_topic=_TENANT_TASKS_TOPIC,
        tenant_id=tenant_id,
    )
    assigned = _ASSIGNED(
        originator_id=list_id,
        originator_version=2,
        timestamp=timestamp,
        task_id=task_id,
        plan_id=plan_id,
    )
    return registered, assigned
