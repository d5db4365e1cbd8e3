"""`switchyard scheduler` and `switchyard relay`: the long-running roles (`dev` runs them all)."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Annotated

import typer

from switchyard.adapters.bootstrap import Roles, container
from switchyard.adapters.logs import LIFECYCLE, role_logs
from switchyard.adapters.settings import Settings

log = logging.getLogger(__name__)

WorkersOption = Annotated[
    int | None, typer.Option("--workers", help="Tasks worked on at once (SWITCHYARD_WORKERS).")
]


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT (Ctrl-C), for a role to stop at its own pace."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def scheduler(workers: WorkersOption = None) -> None:
    """Claim runnable tasks and run their stages until SIGTERM or Ctrl-C."""
    settings = Settings() if workers is None else Settings(workers=workers)
    with (
        role_logs("scheduler", settings),
        container(settings, roles=Roles(scheduler=True), stop=stop_on_signals()) as parts,
    ):
        process = parts.scheduler()
        log.info("metrics at %s", parts.serve_metrics("scheduler_metrics_port"), extra=LIFECYCLE)
        drained = process.run()
    if not drained:
        raise typer.Exit(3)  # work left running is taken over once its leases expire


FromOption = Annotated[
    int | None,
    typer.Option("--from", min=1, help="Republish from this sequence (notification id) on."),
]


def relay(start_from: FromOption = None) -> None:
    """Publish every stored event to Kafka until SIGTERM or Ctrl-C (one relay is active)."""
    settings = Settings()
    with (
        role_logs("relay", settings),
        container(settings, roles=Roles(relay=True), stop=stop_on_signals()) as parts,
    ):
        relay = parts.relay(start_from=start_from)
        log.info("metrics at %s", parts.serve_metrics("relay_metrics_port"), extra=LIFECYCLE)
        relay.run()
