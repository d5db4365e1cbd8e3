"""Limits against resource exhaustion that sit below the routes: the body size.

A body longer than the limit is refused with 413 before a route sees it, whether
it announces its length or streams in chunks.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from switchyard.adapters.api.problems import HTTP_CODES, send_problem


class BodyLimit:
    """ASGI middleware refusing request bodies over `max_bytes` with a 413 problem."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self._app = app
        self._max = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, counting its body; answer 413 once it is too long."""
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max:
            await self._refuse(scope, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self._max:
                    raise _TooLarge
            return message

        try:
            await self._app(scope, counted, send)
        except _TooLarge:
            await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        code, title = HTTP_CODES[413]
        await send_problem(scope, send, 413, code, title, f"the body is over {self._max} bytes")


class _TooLarge(Exception):
    """The body went over the limit while it streamed in."""
