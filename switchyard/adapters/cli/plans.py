"""`switchyard plan ...`: create a plan, show it, and steer all of its tasks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from switchyard.adapters.cli.common import ActorOption, JsonOption, ReasonOption, parse_id, with_app
from switchyard.adapters.cli.output import console, print_json, show_plan
from switchyard.adapters.cli.planfile import read_plan_file
from switchyard.adapters.settings import Settings
from switchyard.application.app import Recorded, Switchyard

app = typer.Typer(help="Plans: create one from a file, show it, steer all its tasks.")


@app.command("create")
def create(
    file: Annotated[Path, typer.Argument(help="Plan request, YAML or JSON.")],
    idempotency_key: Annotated[
        str | None, typer.Option("--idempotency-key", help="Same key, same plan: no second one.")
    ] = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Validate a plan request and record the plan; print its id and its tasks' ids."""
    request = read_plan_file(file)

    def create_plan(sy: Switchyard, settings: Settings) -> None:
        created = sy.create_plan(request, actor or settings.actor, idempotency_key)
        if as_json:
            print_json(created)
            return
        verb = "created" if created.created else "already created (same idempotency key)"
        console.print(
            f"plan {created.plan_id} {verb}; sequence {created.sequence}", highlight=False
        )
        tenants = sy.get_plan(created.plan_id).tenant_ids
        for tenant_id, task_id in zip(tenants, created.task_ids, strict=True):
            console.print(f"  task {task_id}  tenant {tenant_id}", highlight=False)

    with_app(create_plan)


@app.command("show")
def show(plan_id: str, as_json: JsonOption = False) -> None:
    """Show a plan's derived status and its tasks in FIFO order."""
    view = with_app(lambda sy, _: sy.describe_plan(parse_id(plan_id, "plan")))
    print_json(view) if as_json else show_plan(view)


def _report(recorded: Recorded, verb: str) -> None:
    console.print(
        f"{verb}: {len(recorded.task_ids)} task(s); sequence {recorded.sequence}", highlight=False
    )


@app.command("pause")
def pause(plan_id: str, actor: ActorOption = None, reason: ReasonOption = None) -> None:
    """Pause every task of the plan at its next stage boundary."""
    pid = parse_id(plan_id, "plan")
    _report(with_app(lambda sy, s: sy.pause_plan(pid, actor or s.actor, reason)), "pause")


@app.command("resume")
def resume(plan_id: str, actor: ActorOption = None, reason: ReasonOption = None) -> None:
    """Resume every paused task of the plan."""
    pid = parse_id(plan_id, "plan")
    _report(with_app(lambda sy, s: sy.resume_plan(pid, actor or s.actor, reason)), "resume")


@app.command("cancel")
def cancel(plan_id: str, actor: ActorOption = None, reason: ReasonOption = None) -> None:
    """Cancel every unfinished task of the plan at its next stage boundary."""
    pid = parse_id(plan_id, "plan")
    _report(with_app(lambda sy, s: sy.cancel_plan(pid, actor or s.actor, reason)), "cancel")


@app.command("retry")
def retry(
    plan_id: str,
    from_scratch: Annotated[
        bool, typer.Option("--from-scratch", help="Run every stage again.")
    ] = False,
    actor: ActorOption = None,
    reason: ReasonOption = None,
) -> None:
    """Retry every failed or cancelled task, from its checkpoint unless --from-scratch."""
    pid = parse_id(plan_id, "plan")
    _report(
        with_app(lambda sy, s: sy.retry_plan(pid, actor or s.actor, not from_scratch, reason)),
        "retry",
    )


@app.command("rollback")
def rollback(plan_id: str, actor: ActorOption = None, reason: ReasonOption = None) -> None:
    """Roll back every task of the plan that has something to undo."""
    pid = parse_id(plan_id, "plan")
    _report(with_app(lambda sy, s: sy.rollback_plan(pid, actor or s.actor, reason)), "rollback")
