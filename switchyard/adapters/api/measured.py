"""Request metrics for the API: every answer counted and timed by method, route and status.

The route is the template a request matched (`/v1/plans/{plan_id}`), never the
raw path, so a metric's series stay as few as the routes. A request answered
before a route ran (an oversized body, a replayed idempotent POST) is matched
against the routes here; one matching none is labelled `unmatched`. An error
that escapes the app counts as a 500.
"""

from __future__ import annotations

import time

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from switchyard.adapters.metrics.definitions import HttpMetrics

UNMATCHED = "unmatched"
"""The route label of a request no route matches."""


class Measured:
    """ASGI middleware recording each HTTP request in the API's request metrics."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; once it is answered (or failed), record it."""
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self._app(scope, receive, sending)
        finally:
            seconds = time.perf_counter() - started
            self._metrics.answered(scope["method"], route_template(scope), status, seconds)


def route_template(scope: Scope) -> str:
    """The path template of the route the request matched (or would have), else `unmatched`."""
    matched = scope.get("route")
    if isinstance(matched, BaseRoute) and hasattr(matched, "path"):
        return str(matched.path)
    partial = UNMATCHED
    for route in scope["app"].router.routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return str(getattr(route, "path", UNMATCHED))
        if match is Match.PARTIAL and partial == UNMATCHED:
            partial = str(getattr(route, "path", UNMATCHED))  # the path matched, not the method
    return partial
