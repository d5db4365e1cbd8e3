"""What `switchyard demo` shows: live progress bars per task, then a summary table."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from uuid import UUID

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from switchyard.adapters.cli.output import console
from switchyard.application.app import Switchyard
from switchyard.application.views import PlanView, TaskView
from switchyard.domain.status import SETTLED

Versions = Mapping[str, list[str]]
"""Each tenant's instances' versions, as the fleet reports them."""


def settled(view: PlanView) -> bool:
    """Whether no task of the plan has anything left to do without an operator."""
    return all(task.status in SETTLED for task in view.tasks)


def follow(
    app: Switchyard,
    plan_id: UUID,
    stop: threading.Event,
    scheduler_alive: Callable[[], bool],
    poll_seconds: float,
) -> PlanView:
    """Show each task's progress live until the plan settles, a stop, or the scheduler ends."""
    view = app.describe_plan(plan_id)
    columns = (
        TextColumn("{task.description:<16}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]:<12} {task.fields[stage]}"),
    )
    with Progress(*columns, console=console) as progress:
        bars = {
            task.task_id: progress.add_task(
                task.tenant_id, total=task.total_stages, status=task.status.value, stage=""
            )
            for task in view.tasks
        }
        while True:
            _update(progress, bars, view)
            if settled(view) or not scheduler_alive() or stop.wait(poll_seconds):
                return view
            view = app.describe_plan(plan_id)


def _update(progress: Progress, bars: Mapping[UUID, TaskID], view: PlanView) -> None:
    for task in view.tasks:
        progress.update(
            bars[task.task_id],
            completed=len(task.completed_stages),
            status=task.status.value,
            stage=task.current_stage or "",
        )


def show_summary(app: Switchyard, view: PlanView, before: Versions, after: Versions) -> None:
    """Print each task's tenant, status, run time and versions before → after."""
    console.print(
        f"plan [bold]{view.plan_id}[/] ({view.name}): [bold]{view.status.value}[/]",
        highlight=False,
    )
    table = Table("tenant", "status", "duration", "versions (before → after)", show_edge=False)
    for task in view.tasks:
        was, now = before.get(task.tenant_id), after.get(task.tenant_id)
        shift = f"{shown_versions(was)} → {shown_versions(now)}"
        table.add_row(task.tenant_id, task.status.value, _duration(app, task), shift)
    console.print(table)


def _duration(app: Switchyard, task: TaskView) -> str:
    """From the task's first Started event to its last event, if it settled; else "-"."""
    if task.status not in SETTLED:
        return "-"
    history = app.task_history(task.task_id)
    starts = [entry.timestamp for entry in history if entry.type == "Started"]
    if not starts:
        return "-"
    return f"{(history[-1].timestamp - starts[0]).total_seconds():.1f}s"


def shown_versions(versions: list[str] | None) -> str:
    """`2.5.0 x2` when every instance agrees, else each instance's version."""
    if not versions:
        return "?"
    if len(set(versions)) == 1:
        return versions[0] + (f" x{len(versions)}" if len(versions) > 1 else "")
    return ", ".join(versions)
