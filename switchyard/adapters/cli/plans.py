"""`switchyard plan ...`: create a plan, show it, and steer all of its tasks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer
from sqlalchemy import Connection

from switchyard.adapters.api.read_schemas import PlanDetailOut, PlanPageOut
from switchyard.adapters.api.representation import plan_detail, plan_page
from switchyard.adapters.api.schemas import PlanCreatedOut
from switchyard.adapters.cli import report
from switchyard.adapters.cli.common import ActorOption, JsonOption, ReasonOption, parse_id, with_app
from switchyard.adapters.cli.output import console, print_json
from switchyard.adapters.cli.planfile import read_plan_file
from switchyard.adapters.cli.read_output import (
    parse_plan_cursor,
    print_plan_detail,
    print_plan_page,
)
from switchyard.adapters.cli.reads import (
    LimitOption,
    MinSequenceOption,
    TimeOption,
    iso,
    parse_time,
    read_tables,
)
from switchyard.adapters.cli.remote import remote
from switchyard.adapters.settings import Settings
from switchyard.application.app import Recorded, Switchyard
from switchyard.domain.errors import PlanNotFound
from switchyard.projections.fleet import plan_tasks
from switchyard.projections.queries import get_plan, list_plans

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
    api = remote(actor)
    if api is not None:
        made = api.post(PlanCreatedOut, "/v1/plans", request, idempotency_key)
        tenants = [str(t.get("tenantId")) for t in request.get("tenants", [])]
        _print_created(made, tenants, as_json)
        return

    def create_plan(sy: Switchyard, settings: Settings) -> None:
        created = sy.create_plan(request, actor or settings.actor, idempotency_key)
        made = PlanCreatedOut.model_validate(created)
        tenants = [] if as_json else list(sy.get_plan(created.plan_id).tenant_ids)
        _print_created(made, tenants, as_json)

    with_app(create_plan)


def _print_created(made: PlanCreatedOut, tenants: list[str], as_json: bool) -> None:
    """Print a recorded plan (the API's body with --json) and each tenant's task."""
    if as_json:
        print_json(made)
        return
    verb = "created" if made.created else "already created (same idempotency key)"
    console.print(f"plan {made.plan_id} {verb}; sequence {made.sequence}", highlight=False)
    lines = [
        f"  task {task_id}  tenant {tenant_id}"
        for tenant_id, task_id in zip(tenants, made.task_ids, strict=True)
    ]
    if lines:  # written as they are, at once: rich took seconds over a big plan's lines
        console.file.write("\n".join(lines) + "\n")


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
    wanted = None if status is None else status.upper()
    api = remote()
    if api is not None:
        page = api.get(
            PlanPageOut,
            "/v1/plans",
            status=wanted,
            since=iso(parse_time(since)),
            actor=actor,
            limit=limit,
            after=after,
            minSequence=min_sequence,
        )
    else:
        found = read_tables(
            lambda conn: list_plans(
                conn, status=wanted, since=parse_time(since), actor=actor, limit=limit, after=cursor
            ),
            min_sequence,
        )
        page = plan_page(found, limit)
    print_plan_page(page, as_json)


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
    wanted = None if status is None else status.upper()
    api = remote()
    if api is not None:
        detail = api.get(
            PlanDetailOut,
            f"/v1/plans/{pid}",
            status=wanted,
            limit=limit,
            after=after,
            minSequence=min_sequence,
        )
        print_plan_detail(detail, as_json)
        return

    def read(conn: Connection) -> PlanDetailOut:
        plan = get_plan(conn, pid)
        if plan is None:
            raise PlanNotFound(plan_id=pid)
        tasks = plan_tasks(conn, pid, status=wanted, limit=limit, after=after)
        return plan_detail(plan, tasks, limit)

    print_plan_detail(read_tables(read, min_sequence), as_json)


PlanCommand = Callable[[Switchyard, UUID, str], Recorded]
"""A plan command: the application, the plan id and the actor."""


def _steer(
    action: str,
    plan_id: str,
    actor: str | None,
    reason: str | None,
    command: PlanCommand,
    from_checkpoint: bool = True,
) -> None:
    """Run a plan command here or through the API, and say what it recorded."""
    pid = parse_id(plan_id, "plan")
    api = remote(actor)
    if api is not None:
        out = api.steer(f"plans/{pid}", action, reason, from_checkpoint)
        held = " (its effect already held)" if out.already_held else ""
        count, sequence = len(out.task_ids), out.sequence
    else:
        recorded = with_app(lambda sy, s: command(sy, pid, actor or s.actor))
        held, count, sequence = "", len(recorded.task_ids), recorded.sequence
    console.print(f"{action}: {count} task(s){held}; sequence {sequence}", highlight=False)


@app.command("pause")
def pause(plan_id: str, actor: ActorOption = None, reason: ReasonOption = None) -> None:
    """Pause every task of the plan at its next stage boundary."""
    _steer("pause", plan_id, actor, reason, lambda sy, pid, a: sy.pause_plan(pid, a, reason))


@app.command("resume")
def resume(plan_id: str, actor: ActorOption = None, reason: ReasonOption = None) -> None:
    """Resume every paused task of the plan."""
    _steer("resume", plan_id, actor, reason, lambda sy, pid, a: sy.resume_plan(pid, a, reason))


@app.command("cancel")
def cancel(plan_id: str, actor: ActorOption = None, reason: ReasonOption = None) -> None:
    """Cancel every unfinished task of the plan at its next stage boundary."""
    _steer("cancel", plan_id, actor, reason, lambda sy, pid, a: sy.cancel_plan(pid, a, reason))


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
    _steer(
        "retry",
        plan_id,
        actor,
        reason,
        lambda sy, pid, a: sy.retry_plan(pid, a, not from_scratch, reason),
        from_checkpoint=not from_scratch,
    )


@app.command("rollback")
def rollback(plan_id: str, actor: ActorOption = None, reason: ReasonOption = None) -> None:
    """Roll back every task of the plan that has something to undo."""
    _steer("rollback", plan_id, actor, reason, lambda sy, pid, a: sy.rollback_plan(pid, a, reason))
