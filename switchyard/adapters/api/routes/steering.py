"""Steering a plan, a task or a tenant's current task, safely retried.

A command whose effect already holds (pause of a task whose pause is requested,
cancel of a cancelled one, rollback of one rolling back) records nothing and
answers 200 with `alreadyHeld`; only a real conflict (resume of a completed task)
is a 409 problem. Every command runs in the request's trace (`traceparent`) and
as the token's actor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from switchyard.adapters.api.schemas import ActionBody, RecordedOut
from switchyard.application.app import Recorded, Switchyard
from switchyard.application.tracing import trace_context
from switchyard.application.views import TaskView
from switchyard.domain.errors import InvalidTransition, PlanCommandRefused
from switchyard.domain.status import TaskStatus

S = TaskStatus


class Action(StrEnum):
    """What can be asked of a plan, a task or a tenant."""

    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"
    RETRY = "retry"
    ROLLBACK = "rollback"


def holds(action: Action, task: TaskView) -> bool:
    """Whether the action's effect already holds for the task."""
    status = task.status
    if action is Action.PAUSE:
        return task.pause_requested or status is S.PAUSED
    if action is Action.RESUME:
        return status in (S.CREATED, S.QUEUED, S.RUNNING) and not task.pause_requested
    if action is Action.CANCEL:
        return task.cancel_requested or status is S.CANCELLED
    if action is Action.RETRY:
        return status in (S.QUEUED, S.RUNNING) and task.attempt > 1
    return status in (S.ROLLING_BACK, S.ROLLED_BACK)


def command(
    app: Switchyard, action: Action, target: str, key: Any, actor: str, body: ActionBody
) -> Callable[[], Recorded]:
    """The application's command for the action on a `task`, `tenant` or `plan`."""
    method = getattr(app, f"{action.value}_{target}")
    if action is Action.RETRY:
        return lambda: method(key, actor, body.from_checkpoint, body.reason)
    return lambda: method(key, actor, body.reason)


def steer(
    request: Request,
    app: Switchyard,
    action: Action,
    run: Callable[[], Recorded],
    affected: Callable[[], Iterable[TaskView]],
) -> JSONResponse:
    """Run the command; 202 with what it recorded, or 200 if its effect already held."""
    with trace_context(request.headers.get("traceparent")):
        try:
            recorded = run()
        except (InvalidTransition, PlanCommandRefused):
            tasks = list(affected())
            if not tasks or not all(holds(action, task) for task in tasks):
                raise
            latest = app.recorder.max_notification_id() or 0
            held = RecordedOut(
                sequence=latest, task_ids=[t.task_id for t in tasks], already_held=True
            )
            return JSONResponse(held.model_dump(mode="json", by_alias=True), status_code=200)
    out = RecordedOut(sequence=recorded.sequence, task_ids=list(recorded.task_ids))
    return JSONResponse(out.model_dump(mode="json", by_alias=True), status_code=202)
