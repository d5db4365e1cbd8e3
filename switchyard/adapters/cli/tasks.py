"""`switchyard task ...`: show a task (by id or tenant) and steer it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from uuid import UUID

import typer

from switchyard.adapters.api.read_schemas import TaskOut
from switchyard.adapters.cli.common import ActorOption, JsonOption, ReasonOption, parse_id, with_app
from switchyard.adapters.cli.output import console, print_json, show_history, show_task
from switchyard.adapters.cli.read_output import show_task_row
from switchyard.adapters.cli.remote import RemoteApi, remote, unavailable_with
from switchyard.adapters.settings import Settings
from switchyard.application.app import Recorded, Switchyard

app = typer.Typer(help="Tasks: show one by id or by tenant, and steer it.")

TaskArgument = Annotated[str | None, typer.Argument(help="Task id (or use --tenant).")]
TenantOption = Annotated[
    str | None,
    typer.Option(
        "--tenant",
        help="The tenant's current task: running or paused, else the oldest waiting, "
        "else the newest.",
    ),
]


def _task_id(sy: Switchyard, task_id: str | None, tenant: str | None) -> UUID:
    _one_of(task_id, tenant)
    return sy.current_task_id(tenant) if tenant is not None else parse_id(str(task_id), "task")


def _one_of(task_id: str | None, tenant: str | None) -> None:
    if (task_id is None) == (tenant is None):
        raise typer.BadParameter("give either a task id or --tenant")


def _remote_target(task_id: str | None, tenant: str | None) -> str:
    """The API's resource for the task: `tasks/ID`, or `tenants/TENANT` for its current one."""
    _one_of(task_id, tenant)
    return f"tenants/{tenant}" if tenant is not None else f"tasks/{parse_id(str(task_id), 'task')}"


def _remote_show(api: RemoteApi, task_id: str | None, tenant: str | None, as_json: bool) -> None:
    """Show a task as the API has it (its read tables), by id or as a tenant's current task."""
    target = _remote_target(task_id, tenant)
    found = api.get(TaskOut, f"/v1/{target}/task" if tenant else f"/v1/{target}")
    print_json(found) if as_json else show_task_row(found)


@app.command("show")
def show(
    task_id: TaskArgument = None,
    tenant: TenantOption = None,
    history: Annotated[bool, typer.Option("--history", help="Also list every event.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Show a task's status, stage and progress (and its history with --history).

    Read from the event store, always current; with --api, from the API's read tables.
    """
    api = remote()
    if api is not None:
        if history:
            raise unavailable_with("--history")
        _remote_show(api, task_id, tenant, as_json)
        return

    def describe(sy: Switchyard, _: Settings) -> None:
        tid = _task_id(sy, task_id, tenant)
        view = sy.describe_task(tid)
        entries = sy.task_history(tid) if history else None
        if as_json:
            print_json({"task": view, "history": entries} if history else view)
            return
        show_task(view)
        if entries is not None:
            show_history(entries)

    with_app(describe)


Steer = Callable[[Switchyard, UUID, str], Recorded]
"""A task command: the application, the task id and the actor."""


def _steer(
    verb: str,
    task_id: str | None,
    tenant: str | None,
    actor: str | None,
    reason: str | None,
    command: Steer,
    from_checkpoint: bool = True,
) -> None:
    """Run a task command here or through the API, and say what it recorded."""
    api = remote(actor)
    if api is not None:
        out = api.steer(_remote_target(task_id, tenant), verb, reason, from_checkpoint)
        chosen = f", {tenant}'s current task" if tenant else ""
        held = " (its effect already held)" if out.already_held else ""
        tid = out.task_ids[0] if out.task_ids else "-"
        console.print(f"{verb}: task {tid}{chosen}{held}; sequence {out.sequence}", highlight=False)
        return

    def steer(sy: Switchyard, settings: Settings) -> str:
        tid = _task_id(sy, task_id, tenant)
        recorded = command(sy, tid, actor or settings.actor)
        chosen = f" of plan {sy.get_task(tid).plan_id}, {tenant}'s current task" if tenant else ""
        return f"{verb}: task {tid}{chosen}; sequence {recorded.sequence}"

    console.print(with_app(steer), highlight=False)


@app.command("pause")
def pause(
    task_id: TaskArgument = None,
    tenant: TenantOption = None,
    actor: ActorOption = None,
    reason: ReasonOption = None,
) -> None:
    """Pause a task at its next stage boundary."""
    _steer("pause", task_id, tenant, actor, reason, lambda sy, t, a: sy.pause_task(t, a, reason))


@app.command("resume")
def resume(
    task_id: TaskArgument = None,
    tenant: TenantOption = None,
    actor: ActorOption = None,
    reason: ReasonOption = None,
) -> None:
    """Put a paused task back in the queue."""
    _steer("resume", task_id, tenant, actor, reason, lambda sy, t, a: sy.resume_task(t, a, reason))


@app.command("cancel")
def cancel(
    task_id: TaskArgument = None,
    tenant: TenantOption = None,
    actor: ActorOption = None,
    reason: ReasonOption = None,
) -> None:
    """Cancel a task at its next stage boundary."""
    _steer("cancel", task_id, tenant, actor, reason, lambda sy, t, a: sy.cancel_task(t, a, reason))


@app.command("retry")
def retry(
    task_id: TaskArgument = None,
    tenant: TenantOption = None,
    from_scratch: Annotated[
        bool, typer.Option("--from-scratch", help="Run every stage again.")
    ] = False,
    actor: ActorOption = None,
    reason: ReasonOption = None,
) -> None:
    """Run a failed, cancelled or rolled-back task again, from its checkpoint by default."""
    _steer(
        "retry",
        task_id,
        tenant,
        actor,
        reason,
        lambda sy, t, a: sy.retry_task(t, a, not from_scratch, reason),
        from_checkpoint=not from_scratch,
    )


@app.command("rollback")
def rollback(
    task_id: TaskArgument = None,
    tenant: TenantOption = None,
    actor: ActorOption = None,
    reason: ReasonOption = None,
) -> None:
    """Undo a task's completed stages, newest first."""
    _steer(
        "rollback", task_id, tenant, actor, reason, lambda sy, t, a: sy.rollback_task(t, a, reason)
    )
