"""The API served over real HTTP in tests: uvicorn in a thread, on a free loopback port, on
the test's event store, with the tokens given."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn

from switchyard.adapters.bootstrap import Container
from tests.support.api import Issued, api_app
from tests.support.waiting import wait_until


@dataclass(frozen=True)
class ApiServer:
    """A running API: its base URL and the container it serves."""

    url: str
    parts: Container


def free_port() -> int:
    """A loopback TCP port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def api_server(pg_env: dict[str, str], *issued: Issued, **settings: object) -> Iterator[ApiServer]:
    """Serve the API until the block ends; yields once it accepts connections."""
    with api_app(pg_env, *issued, **settings) as app:
        port = free_port()
        config = uvicorn.Config(
            app.asgi, host="127.0.0.1", port=port, log_config=None, access_log=False
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="api-server", daemon=True)
        thread.start()
        try:
            wait_until(lambda: server.started or not thread.is_alive(), 30, "the API serving")
            assert thread.is_alive(), "the API server stopped at start"
            yield ApiServer(f"http://127.0.0.1:{port}", app.parts)
        finally:
            server.should_exit = True
            thread.join(30)
