"""Helpers for the step executors' tests: step definitions, a channel subscriber, and a
local HTTP server that answers the status code its path names."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

import redis

from switchyard.application.ports import StepContext, StepExecutor
from switchyard.domain.values import StepDefinition

DEADLINE = 10.0
"""Seconds before an awaited condition counts as unseen."""


class Subscriber:
    """A confirmed subscription to a channel, read with a deadline."""

    def __init__(self, client: redis.Redis, channel: str) -> None:
        self.pubsub = client.pubsub()  # type: ignore[no-untyped-call]
        self.pubsub.subscribe(channel)
        assert self.next(type_="subscribe") is not None

    def next(self, type_: str = "message") -> Any:
        """The next message of that type, or None past the deadline."""
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            message = self.pubsub.get_message(timeout=0.1)
            if message is not None and message["type"] == type_:
                return message["data"]
        return None


class StatusHandler(BaseHTTPRequestHandler):
    """GET|POST|DELETE /status/<code> answers that code; /slow answers once released."""

    def handle_any(self) -> None:
        """Record the request, then answer it."""
        server = cast(StatusServer, self.server)
        length = int(self.headers.get("Content-Length") or 0)
        server.requests.append((self.command, self.path, self.rfile.read(length)))
        if self.path == "/slow":
            server.release.wait(DEADLINE)
        code = int(self.path.rpartition("/")[2]) if self.path.startswith("/status/") else 200
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_DELETE = handle_any

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet."""


class StatusServer(ThreadingHTTPServer):
    """A local HTTP server answering the status code its path names."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), StatusHandler)
        self.requests: list[tuple[str, str, bytes]] = []
        self.release = threading.Event()
        self.base = f"http://127.0.0.1:{self.server_address[1]}"


def step(kind: str, **params: Any) -> StepDefinition:
    """A step definition."""
    return StepDefinition(kind=kind, params=params)


def health(endpoints: list[str], version: str = "2.0.0", **params: Any) -> StepDefinition:
    """A health-check step on the given endpoints."""
    defaults = {"registry": None, "interval": 0.01, "maxAttempts": 3}
    return step(
        "health-check", endpoints=endpoints, expectedVersion=version, **{**defaults, **params}
    )


def broadcast(executors: dict[str, StepExecutor], channel: str, context: StepContext) -> None:
    """Publish the switch notice to the fleet, as the Broadcast stage does."""
    message = {"tenantId": context.tenant_id, "version": "2.0.0"}
    executors["redis-publish"].run(step("redis-publish", channel=channel, message=message), context)
