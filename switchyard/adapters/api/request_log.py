"""Each request's id, its log context and its access line.

`RequestLog` gives every request an id: the client's `X-Request-ID` when it is
sane (1 to 128 letters, digits and `._:+=/-`), else a new one; it is echoed in
the response. The id, method and path are bound on the log context for the
request's lines, `principal` in `deps` binds the actor, and `bind_path_ids` the
plan, task and tenant a path names. One access line per request gives its
status and duration. The context is cleared when the next request starts (each
runs in a task of its own), not when this one ends: an unexpected error is
logged by the outermost handler, after this middleware, and keeps the request's
context.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.contextvars import bind_contextvars, clear_contextvars, get_contextvars

log = logging.getLogger(__name__)

HEADER = "X-Request-ID"
"""The request and response header carrying the request's id."""

_SANE = re.compile(r"[A-Za-z0-9._:+=/-]{1,128}")

PATH_IDS = {"planId": "plan", "taskId": "task", "tenantId": "tenant"}
"""Path parameters bound on the log context, and their names there."""


def request_id(scope: Scope) -> str:
    """The client's request id if sane, else a new one."""
    for name, value in scope.get("headers") or []:
        if name.lower() == b"x-request-id":
            text = bytes(value).decode("latin-1")
            if _SANE.fullmatch(text):
                return text
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    """The id of the request being answered, if any (for responses sent outside the
    middleware)."""
    found = get_contextvars().get("request_id")
    return None if found is None else str(found)


class RequestLog:
    """ASGI middleware: the request's id and log context, and one access line."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Bind the request's context, echo its id, log its status and duration."""
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        rid = request_id(scope)
        clear_contextvars()
        bind_contextvars(request_id=rid, method=scope["method"], path=scope["path"])
        status = 500  # unless a response starts
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                message = {**message, "headers": [*headers, (b"x-request-id", rid.encode())]}
            await send(message)

        try:
            await self._app(scope, receive, send_with_id)
        finally:
            took = round((time.perf_counter() - started) * 1000, 1)
            line = "%s %s %d in %.1f ms"
            access = {"status": status, "duration_ms": took}
            log.info(line, scope["method"], scope["path"], status, took, extra=access)


async def bind_path_ids(request: Request) -> None:
    """Bind the plan, task or tenant the path names on the log context."""
    found = {PATH_IDS[k]: str(v) for k, v in request.path_params.items() if k in PATH_IDS}
    if found:
        bind_contextvars(**found)
