"""Builders of what tests start from: tenants' configs, plan requests, tasks, and tasks
moved on by a worker's stages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from switchyard.application.app import Switchyard
from switchyard.domain.task import Task
from switchyard.domain.values import FailureInfo, FailureType, StageDefinition, StepDefinition

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
"""A fixed business time for the workers' commands."""

STAGE_NAMES = ("ConfigUpdate", "Broadcast", "HealthCheck")
"""The stages of a task from `new_task`, as the built-in recipes name them."""


def tenant(
    tenant_id: str = "acme", service_type: str = "blue-green-gateway", **changes: Any
) -> dict[str, Any]:
    """One tenant's deploy config, valid for the packaged recipes.

    `changes` set request fields (`targetVersion="9"`); a field set to None is left out.
    """
    config = {
        "tenantId": tenant_id,
        "serviceType": service_type,
        "targetVersion": "2.5.0",
        "endpoints": ["127.0.0.1:18081"],
        **changes,
    }
    return {key: value for key, value in config.items() if value is not None}


def plan_request(
    *tenants: str | Mapping[str, Any],
    name: str = "rollout",
    max_concurrency: int = 2,
    **changes: Any,
) -> dict[str, Any]:
    """A valid plan request for the tenants (ids or configs), in FIFO order.

    `changes` set other request fields (`supersede=True`) or replace these.
    """
    configs = [tenant(t) if isinstance(t, str) else dict(t) for t in tenants]
    return {"name": name, "maxConcurrency": max_concurrency, "tenants": configs, **changes}


def probe_plan(
    *tenant_ids: str, version: str = "2", max_concurrency: int = 1, **changes: Any
) -> dict[str, Any]:
    """A plan request of tasks of the probe service type (`tests.support.schedulers`)."""
    configs = [tenant(t, "probe", targetVersion=version, endpoints=["h:1"]) for t in tenant_ids]
    return plan_request(*configs, max_concurrency=max_concurrency, **changes)


def noop_stages(*names: str) -> tuple[StageDefinition, ...]:
    """Stages of one noop step each (its params tell the steps apart)."""
    return tuple(
        StageDefinition(name, (StepDefinition("noop", {"n": i}),)) for i, name in enumerate(names)
    )


def new_task(stages: Sequence[StageDefinition] = (), **changes: Any) -> Task:
    """A new task of tenant acme; its stages are STAGE_NAMES' noop ones unless given.

    `changes` set the Task's other fields (`position=3`, `service_type="portal"`).
    """
    fields: dict[str, Any] = {
        "id": uuid4(),
        "plan_id": uuid4(),
        "tenant_id": "acme",
        "position": 0,
        "service_type": "blue-green-gateway",
        "target_version": "2.4.1",
        "actor": "ops",
        **changes,
    }
    return Task(stages=tuple(stages) or noop_stages(*STAGE_NAMES), **fields)


def run_stages(
    app: Switchyard, task_id: UUID, count: int, *, fail_next: bool = False, owner: str = "worker-1"
) -> None:
    """Play a worker: claim the task, complete `count` stages, maybe fail the next; save."""
    task = app.get_task(task_id)
    fence = (task.fence or 0) + 1
    task.claim(owner, fence, NOW)
    for _ in range(count):
        index = task.begin_stage(fence)
        result = {"previous": {"version": f"1.{index}", "keys": [f"k{index}", None]}}
        task.complete_stage(index, result, fence, NOW)
    if fail_next:
        index = task.begin_stage(fence)
        task.fail_stage(index, FailureInfo(FailureType.IO, f"stage {index} broke"), fence)
    app.save(task)


def undo_stages(app: Switchyard, task_id: UUID, count: int, *, fail_next: bool = False) -> None:
    """Play a worker rolling back: undo `count` stages, newest first, maybe fail the next."""
    task = app.get_task(task_id)
    fence = (task.fence or 0) + 1
    task.claim("worker-2", fence, NOW)
    for _ in range(count):
        task.roll_back_stage(task.completed[-1].index, fence)
    if fail_next:
        failure = FailureInfo(FailureType.TIMEOUT, "undo timed out")
        task.fail_rollback(task.completed[-1].index, failure, fence)
    app.save(task)
