"""`switchyard plan ...`: create a plan, show it, and steer all of its tasks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Connection

from switchyard.adapters.api.representation import plan_cursor
from switchyard.adapters.cli import report
from switchyard.adapters.cli.common import ActorOption, JsonOption, ReasonOption, parse_id, with_app
from switchyard.adapters.cli.output import console, print_json
from switchyard.adapters.cli.planfile import read_plan_file
from switchyard.adapters.cli.read_output import (
    parse_plan_cursor,
    show_plan_rows,
    show_plan_summary,
    show_task_rows,
)
from switchyard.adapters.cli.reads import (
    LimitOption,
    MinSequenceOption,
    TimeOption,
    parse_time,
    read_tables,
)
from switchyard.adapters.settings import Settings
from switchyard.application.app import Recorded, Switchyard
from switchyard.domain.errors import PlanNotFound
from switchyard.projections.fleet import TaskRow, plan_tasks
from switchyard.projections.queries import PlanRow, get_plan, list_plans

app = typer.Typer(help="Plans: create one from a file, list and show them, steer all its tasks.")
app.command("report")(report.report)


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


@app.command("list")
def list_(
    status: Annotated[str | None, typer.Option(help="Only plans in this status.")] = None,
    since: TimeOption = None,
    actor: Annotated[str | None, typer.Option(help="Only plans created by this actor.")] = None,
    limit: LimitOption = 50,
    after: Annotated[str | None, typer.Option(help="The page after this cursor.")] = None,
    min_sequence: MinSequenceOption = None,
    as_json: JsonOption = False,
) -> None:
    """List plans, newest first, from the read tables."""
    cursor = None if after is None else parse_plan_cursor(after)
    found = read_tables(
        lambda conn: list_plans(
            conn,
            status=None if status is None else status.upper(),
            since=parse_time(since),
            actor=actor,
            limit=limit,
            after=cursor,
        ),
        min_sequence,
    )
    following = plan_cursor(found[-1]) if len(found) == limit else None
    if as_json:
        print_json({"plans": found, "next": following})
        return
    show_plan_rows(found)
    if following:
        console.print(f"next page: --after {following}", highlight=False)


@app.command("show")
def show(
    plan_id: str,
    status: Annotated[str | None, typer.Option(help="Only tasks in this status.")] = None,
    limit: LimitOption = 100,
    after: Annotated[
        int | None, typer.Option(help="The page of tasks after this position.")
    ] = None,
    min_sequence: MinSequenceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a plan's status and progress and a page of its tasks in FIFO order."""
    pid = str(parse_id(plan_id, "plan"))

    def read(conn: Connection) -> tuple[PlanRow, list[TaskRow]]:
        plan = get_plan(conn, pid)
        if plan is None:
            raise PlanNotFound(plan_id=pid)
        wanted = None if status is None else status.upper()
        return plan, plan_tasks(conn, pid, status=wanted, limit=limit, after=after)

    plan, tasks = read_tables(read, min_sequence)
    following = tasks[-1].position if len(tasks) == limit else None
    if as_json:
        print_json({"plan": plan, "tasks": tasks, "next": following})
        return
    show_plan_summary(plan)
    show_task_rows(tasks)
    if following is not None:
        console.print(f"next page: --after {following}", highlight=False)


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
