"""What `switchyard demo --api` shows: live progress bars read from the API, then a summary.

The API's read side follows the event store through the relay and projector, so
a plan just created may not be readable yet: `plan.not_found` while following is
waited out, any other failure ends the demo.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from uuid import UUID

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from switchyard.adapters.api.read_schemas import PlanDetailOut, TaskOut
from switchyard.adapters.cli.output import console
from switchyard.adapters.demo.client import PlanClient, problem_of
from switchyard.adapters.demo.view import Versions, shown_versions
from switchyard.domain.errors import ApiCallFailed
from switchyard.domain.status import SETTLED, TaskStatus

NOT_YET_READABLE = "plan.not_found"
"""The problem code of a plan the read side has not caught up with yet."""


def settled_detail(detail: PlanDetailOut, tasks: int) -> bool:
    """Whether all of the plan's tasks are readable and none has anything left to do."""
    return len(detail.tasks) >= tasks and all(
        TaskStatus(task.status) in SETTLED for task in detail.tasks
    )


def follow_remote(
    client: PlanClient, plan_id: UUID, tasks: int, stop: threading.Event, poll_seconds: float
) -> PlanDetailOut | None:
    """Show each task's progress live until the plan settles or a stop; the last read, if any."""
    columns = (
        TextColumn("{task.description:<16}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]:<12} {task.fields[stage]}"),
    )
    detail: PlanDetailOut | None = None
    bars: dict[str, TaskID] = {}
    with Progress(*columns, console=console) as progress:
        while not stop.is_set():
            detail = _read(client, plan_id) or detail
            if detail is not None:
                _update(progress, bars, detail.tasks)
                if settled_detail(detail, tasks):
                    break
            stop.wait(poll_seconds)
    return detail


def _read(client: PlanClient, plan_id: UUID) -> PlanDetailOut | None:
    try:
        return client.plan_detail(plan_id)
    except ApiCallFailed as error:
        if problem_of(error) == NOT_YET_READABLE:
            return None
        raise


def _update(progress: Progress, bars: dict[str, TaskID], tasks: list[TaskOut]) -> None:
    for task in tasks:
        if task.task_id not in bars:
            bars[task.task_id] = progress.add_task(
                task.tenant_id, total=task.total_stages, status="", stage=""
            )
        progress.update(
            bars[task.task_id],
            completed=task.completed_stages,
            status=task.status,
            stage=task.current_stage or "",
        )


def show_remote_summary(
    detail: PlanDetailOut | None, before: Versions, after: Mapping[str, list[str]]
) -> None:
    """Print the plan's status and each task's tenant, status, run time and versions."""
    if detail is None:
        console.print("the plan was not readable through the API yet", highlight=False)
        return
    plan = detail.plan
    console.print(
        f"plan [bold]{plan.plan_id}[/] ({plan.name}): [bold]{plan.status}[/]", highlight=False
    )
    table = Table("tenant", "status", "duration", "versions (before → after)", show_edge=False)
    for task in detail.tasks:
        was, now = before.get(task.tenant_id), after.get(task.tenant_id)
        shift = f"{shown_versions(was)} → {shown_versions(now)}"
        table.add_row(task.tenant_id, task.status, _duration(task), shift)
    console.print(table)


def _duration(task: TaskOut) -> str:
    """From the task's start to its end, once it settled; else "-"."""
    if task.started_at is None or task.finished_at is None:
        return "-"
    return f"{(task.finished_at - task.started_at).total_seconds():.1f}s"
