"""What the embedded servers (Redis, the Kafka-protocol broker) share: a child process
that whoever started it stops, a free local port, and the end of its log for errors."""

from __future__ import annotations

import ctypes
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

STOP_TIMEOUT_SECONDS = 10.0
"""How long a server may take to exit on SIGTERM before it is killed."""

START_TIMEOUT_SECONDS = 10.0
"""How long a server may take to answer before its start counts as failed."""

PORT_TRIES = 3
"""How many free ports to try: another process may take the one picked before the bind."""

POLL_SECONDS = 0.05
"""The pause between two readiness probes."""


_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def stops_with_parent() -> None:
    """Run in the child before it execs (`preexec_fn`): Linux sends it SIGTERM when the
    thread that started it dies, even by SIGKILL, so a killed `dev` leaves no server
    behind. Elsewhere a no-op."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class ChildServer:
    """A server running as a child process; stopped by `stop()` or on leaving a `with`."""

    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        """Stop the server and wait for it to exit (no-op if it has)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def wait_ready(
    process: subprocess.Popen[bytes], answers: Callable[[], bool], timeout: float
) -> bool:
    """Probe until the server answers (True), its process exits, or the deadline passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answers():
            return True
        try:
            process.wait(timeout=POLL_SECONDS)  # the pause between probes; ends on exit
            return False
        except subprocess.TimeoutExpired:
            continue
    return False


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago (another process may take it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def log_tail(log: Path, lines: int = 20) -> str:
    """The last lines of a server's log, for an error message."""
    if not log.exists():
        return "(no log)"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
