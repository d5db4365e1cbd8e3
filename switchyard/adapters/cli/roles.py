"""`switchyard scheduler`, `switchyard relay` and `switchyard dev`: the long-running roles."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from switchyard.adapters.bootstrap import (
    bootstrap,
    build_scheduler,
    database_url,
    kafka_servers,
    scheduler_config,
    step_executors,
)
from switchyard.adapters.cli.output import console
from switchyard.adapters.relay.config import RelayConfig
from switchyard.adapters.relay.publisher import Relay, build_relay, running_in_thread
from switchyard.adapters.settings import Settings

log = logging.getLogger(__name__)

WorkersOption = Annotated[
    int | None, typer.Option("--workers", help="Tasks worked on at once (SWITCHYARD_WORKERS).")
]


def configure_logging() -> None:
    """INFO lines with time and source; the Kafka client kept to its critical errors.

    aiokafka logs every failed connection attempt; the relay reports an outage
    itself, once when it starts and once when it ends, with the broker's error.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT (Ctrl-C), for a role to stop at its own pace."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def _run_scheduler(settings: Settings, stop: threading.Event) -> bool:
    # Every worker thread saves events: give each a connection, plus the dispatcher's.
    pool = max(settings.db_pool_size, settings.workers + 2)
    app = bootstrap(settings.model_copy(update={"db_pool_size": pool}))
    try:
        with step_executors(settings, stop) as executors:
            config = scheduler_config(settings)
            return build_scheduler(app, executors, config, stop, settings=settings).run()
    finally:
        app.close()


def scheduler(workers: WorkersOption = None) -> None:
    """Claim runnable tasks and run their stages until SIGTERM or Ctrl-C."""
    configure_logging()
    settings = Settings() if workers is None else Settings(workers=workers)
    if not _run_scheduler(settings, stop_on_signals()):
        raise typer.Exit(3)  # work left running is taken over once its leases expire


FromOption = Annotated[
    int | None,
    typer.Option("--from", min=1, help="Republish from this sequence (notification id) on."),
]


def relay(start_from: FromOption = None) -> None:
    """Publish every stored event to Kafka until SIGTERM or Ctrl-C (one relay is active)."""
    configure_logging()
    settings = Settings()
    stop = stop_on_signals()
    with kafka_servers(settings) as servers, _relay(settings, servers, stop, start_from) as relay:
        relay.run()


RELAY_JOIN_SECONDS = 30.0
"""How long `dev` waits for its relay thread to finish its batch once stopping."""


@contextmanager
def _relay(
    settings: Settings, servers: str, stop: threading.Event, start_from: int | None = None
) -> Iterator[Relay]:
    """A relay on its own application, which is closed after the block."""
    app = bootstrap(settings)
    try:
        yield build_relay(app, RelayConfig.from_settings(settings, servers), stop, start_from)
    finally:
        app.close()


@contextmanager
def _relay_thread(settings: Settings, servers: str, stop: threading.Event) -> Iterator[None]:
    """The relay on a daemon thread while the block runs; stopped with `stop` after it."""
    # On exit `stop` is set: the scheduler may have ended on its own; the relay must end too.
    with (
        _relay(settings, servers, stop) as relay,
        running_in_thread(relay, stop, RELAY_JOIN_SECONDS, daemon=True),
    ):
        yield


def dev() -> None:
    """Run switchyard on its embedded defaults until Ctrl-C: database, scheduler and relay."""
    configure_logging()
    settings = Settings()
    url = database_url(settings)
    stop = stop_on_signals()
    with kafka_servers(settings) as servers, _relay_thread(settings, servers, stop):
        console.print(f"event store: [bold]{url}[/]", highlight=False)
        console.print(f"kafka: [bold]{servers}[/] (topic {settings.kafka_topic})", highlight=False)
        console.print(
            "scheduler and relay running. In another shell: "
            "switchyard plan create examples/plan.yaml; switchyard task show --tenant acme; "
            "switchyard tail. Ctrl-C stops.",
            highlight=False,
        )
        drained = _run_scheduler(settings, stop)
    console.print(
        "stopped" if drained else "stopped; tasks left mid-stage will be taken over",
        highlight=False,
    )
    if not drained:
        raise typer.Exit(3)  # work left running is taken over once its leases expire
