"""Server-Sent Events in tests: the API served by a real uvicorn on a free loopback port
(httpx's ASGI transport does not stream), and a small client that parses the stream."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from tests.support.waiting import wait_until


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """The app served by uvicorn in a thread; its base URL. Stopped at the end."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, lifespan="off", ws="none", log_level="warning", timeout_graceful_shutdown=5
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, 10, "the API server to start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


@dataclass(frozen=True)
class Message:
    """One message of an event stream: its id, event type and data, or a comment."""

    id: str | None = None
    event: str | None = None
    data: str | None = None
    comment: str | None = None

    def json(self) -> Any:
        """The data, parsed as JSON."""
        return json.loads(self.data or "null")


def messages(response: httpx.Response) -> Iterator[Message]:
    """The messages of a streaming response, as an EventSource parses them."""
    fields: dict[str, str] = {}
    data: list[str] = []
    for line in response.iter_lines():
        if line == "":
            if fields or data:
                yield Message(data="\n".join(data) if data else None, **fields)
            fields, data = {}, []
        elif line.startswith(":"):
            fields["comment"] = line[1:].strip()
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                data.append(value)
            elif name in ("id", "event"):
                fields[name] = value


class EventStream:
    """An open event stream: read its messages one by one, skipping or keeping comments."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._messages = messages(response)

    def next(self, *, comments: bool = False) -> Message:
        """The next message (by default the next event, past any keep-alive comments)."""
        for message in self._messages:
            if comments or message.comment is None:
                return message
        raise AssertionError("the stream ended")

    def rest(self) -> list[Message]:
        """Every event left, until the server closes the stream."""
        return [m for m in self._messages if m.comment is None]

    def until_end(self) -> list[Message]:
        """Every event up to and with `end`; the stream must close after it."""
        found = []
        while True:
            message = self.next()
            found.append(message)
            if message.event == "end":
                after = self.rest()
                assert after == [], f"events after end: {after}"
                return found


@contextmanager
def event_stream(
    client: httpx.Client, path: str, headers: dict[str, str], **params: Any
) -> Iterator[EventStream]:
    """A GET of an event stream that answered 200; closed (the client disconnects) at the end."""
    with client.stream("GET", path, headers=headers, params=params) as response:
        assert response.status_code == 200, response.read().decode()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield EventStream(response)
