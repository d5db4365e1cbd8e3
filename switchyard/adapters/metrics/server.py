"""The metrics endpoint of a role without an HTTP API of its own (scheduler, relay,
projector, dev): prometheus_client's small HTTP server on a thread, on a port of its own.

Port 0 takes a free port (tests; several roles on one machine); the URL it
serves at says which. A port that cannot be listened on (taken, or the host is
not this machine's) is a settings error naming the variable to change.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, start_http_server

from switchyard.domain.errors import Problem, SettingsInvalid


@contextmanager
def serving(registry: CollectorRegistry, host: str, port: int, variable: str) -> Iterator[str]:
    """Serve the registry at http://host:port/metrics until the block ends; give the URL.

    `variable` names the setting that chose the port, for the error if it is unusable.
    """
    try:
        server, thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        problem = Problem(
            variable, "port_unavailable", f"cannot serve metrics on {host}:{port}: {exc}"
        )
        raise SettingsInvalid([problem]) from exc
    try:
        shown = f"[{host}]" if ":" in host else host
        yield f"http://{shown}:{server.server_port}/metrics"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
