"""`switchyard scheduler` and `switchyard relay`: the long-running roles (`dev` runs them all)."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Annotated

import typer

from switchyard.adapters.bootstrap import Roles, container
from switchyard.adapters.settings import Settings

log = logging.getLogger(__name__)

WorkersOption = Annotated[
    int | None, typer.Option("--workers", help="Tasks worked on at once (SWITCHYARD_WORKERS).")
]


def configure_logging() -> None:
    """INFO lines with time and source; the Kafka client and Alembic kept to their errors.

    aiokafka logs every failed connection attempt; the relay reports an outage
    itself, once when it starts and once when it ends, with the broker's error.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # switchyard says what it migrated


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT (Ctrl-C), for a role to stop at its own pace."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def scheduler(workers: WorkersOption = None) -> None:
    """Claim runnable tasks and run their stages until SIGTERM or Ctrl-C."""
    configure_logging()
    settings = Settings() if workers is None else Settings(workers=workers)
    with container(settings, roles=Roles(scheduler=True), stop=stop_on_signals()) as parts:
        drained = parts.scheduler().run()
    if not drained:
        raise typer.Exit(3)  # work left running is taken over once its leases expire


FromOption = Annotated[
    int | None,
    typer.Option("--from", min=1, help="Republish from this sequence (notification id) on."),
]


def relay(start_from: FromOption = None) -> None:
    """Publish every stored event to Kafka until SIGTERM or Ctrl-C (one relay is active)."""
    configure_logging()
    with container(Settings(), roles=Roles(relay=True), stop=stop_on_signals()) as parts:
        parts.relay(start_from=start_from).run()
