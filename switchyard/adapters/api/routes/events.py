"""`/v1/plans/{planId}/events`: a plan's events, live, as Server-Sent Events.

Resumable: `Last-Event-ID` (which an `EventSource` sends when it reconnects) or
`?after=` gives the sequence to continue after, without loss or duplicates. A
token limited to some tenants follows only their tasks (404 when it may see none
of the plan's). Each token holds at most API_MAX_STREAMS streams at once (429
`stream.too_many` over that); a stream gives its slot back when it ends, however
it ends. See `adapters.api.plan_events` for what the stream carries.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable
from functools import partial
from typing import Annotated, Any

import anyio
from anyio import to_thread
from fastapi import APIRouter, Header, Query, Request
from sse_starlette import EventSourceResponse
from starlette.types import Receive, Scope, Send

from switchyard.adapters.api.deps import Reader, Services
from switchyard.adapters.api.plan_events import SEPARATOR, FollowedPlan, PlanEvents
from switchyard.adapters.api.problems import ApiProblem, ProblemOut
from switchyard.adapters.api.routes.plans import PlanId
from switchyard.adapters.api.streams import event_streams
from switchyard.adapters.postgres.aggregate_log import AggregateLog
from switchyard.domain.errors import PlanNotFound

router = APIRouter(prefix="/v1/plans", tags=["plans"])

MAX_SEQUENCE = 2**63 - 1
"""The largest sequence the store can give (a bigint)."""

RETRY_AFTER_SECONDS = 5
"""What a refused stream is told to wait before trying again."""

SEND_TIMEOUT_SECONDS = 60.0
"""How long one message may wait on a client that reads nothing before the stream ends."""

SHUTDOWN_GRACE_SECONDS = 1.0
"""How long, past one poll, a stream has to close by itself when the server shuts down
(before it is cut off): it closes between two messages, so the client sees a whole one."""

EXAMPLE = (
    'id: 42\nevent: StageCompleted\ndata: {"sequence":42,"eventType":"StageCompleted",...}\n\n'
    ": ping - 2026-11-02 09:30:15.000000+00:00\n\n"
    'event: end\ndata: {"planId":"...","status":"COMPLETED","sequence":57}\n\n'
)

STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The plan's events, then `end` once it finishes: `id` the sequence,"
        " `event` the event type, `data` the event as the audit trail shows it"
        " (the AuditEventOut schema).",
        "content": {"text/event-stream": {"schema": {"type": "string"}, "example": EXAMPLE}},
    },
    429: {
        "model": ProblemOut,
        "description": "The token holds API_MAX_STREAMS streams already (`stream.too_many`).",
        "headers": {"Retry-After": {"schema": {"type": "string"}}},
    },
}


class HeldStream(EventSourceResponse):
    """An SSE response that gives its stream slot back when it ends, however it ends."""

    def __init__(
        self, content: AsyncIterable[Any], release: Callable[[], None], **options: Any
    ) -> None:
        super().__init__(content, **options)
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Stream, then give the slot back."""
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


@router.get(
    "/{planId}/events",
    response_class=EventSourceResponse,
    responses=STREAM_RESPONSES,
)
async def plan_events(
    request: Request,
    parts: Services,
    principal: Reader,
    plan_id: PlanId,
    after: Annotated[
        int | None,
        Query(ge=0, le=MAX_SEQUENCE, description="Send the events after this sequence."),
    ] = None,
    last_event_id: Annotated[
        int | None,
        Header(
            alias="Last-Event-ID",
            ge=0,
            le=MAX_SEQUENCE,
            description="The last sequence received: continue after it (wins over `after`).",
        ),
    ] = None,
) -> HeldStream:
    """Stream the plan's events as Server-Sent Events until the plan finishes."""
    plan = await to_thread.run_sync(parts.app.get_plan, plan_id)
    tenants = {
        task_id: tenant
        for task_id, tenant in zip(plan.task_ids, plan.tenant_ids, strict=True)
        if principal.may_see(tenant)
    }
    if not tenants:
        raise PlanNotFound(plan_id=str(plan_id))
    log = AggregateLog.of(parts.app.recorder, parts.store_engine)
    server_stopping = anyio.Event()  # the response sets it when the server shuts down
    poll_seconds = parts.settings.api_sse_poll_seconds
    events = PlanEvents(
        log,
        parts.app.mapper.transcoder,
        FollowedPlan(plan.id, tenants, whole_plan=principal.tenants is None),
        poll_seconds,
        lambda: parts.stop.is_set() or server_stopping.is_set(),
    )
    streams = event_streams(request)
    if not streams.take(principal.token_id):
        raise ApiProblem(
            429,
            f"the token holds {parts.settings.api_max_streams} event streams already",
            "stream.too_many",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    start = last_event_id if last_event_id is not None else after or 0
    return HeldStream(
        events.messages(start),
        partial(streams.give_back, principal.token_id),
        ping=parts.settings.api_sse_ping_seconds,
        sep=SEPARATOR,
        send_timeout=SEND_TIMEOUT_SECONDS,
        shutdown_event=server_stopping,
        shutdown_grace_period=poll_seconds + SHUTDOWN_GRACE_SECONDS,
    )
