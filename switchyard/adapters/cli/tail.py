"""`switchyard tail`: follow the relay's topic and print each event, for people and scripts."""

from __future__ import annotations

import getpass
import json
import sys
from typing import Annotated, Any

import typer

from switchyard.adapters.cli.roles import stop_on_signals
from switchyard.adapters.embedded.kafka import embedded_broker_address
from switchyard.adapters.kafka.tail import TailConfig, TailEvent, TailFilter, tail
from switchyard.adapters.settings import Settings
from switchyard.domain.errors import BrokerUnavailable

SHOWN_FIELDS = 4
"""How many of an event's own fields a line shows."""

_HIDDEN_FIELDS = frozenset(
    {"timestamp", "originator_id", "originator_version", "tenant_id", "plan_id", "actor"}
)
"""Fields a line already shows in its own columns, or that are bookkeeping."""


def _default_group() -> str:
    try:
        return f"switchyard-tail-{getpass.getuser()}"
    except (KeyError, OSError):
        return "switchyard-tail"


def tail_command(
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Only this tenant's events.")
    ] = None,
    plan: Annotated[str | None, typer.Option("--plan", help="Only this plan's events.")] = None,
    event_type: Annotated[
        str | None, typer.Option("--type", help="Only this type (ce_type or its suffix).")
    ] = None,
    group: Annotated[
        str | None, typer.Option("--group", help="Consumer group [switchyard-tail-$USER].")
    ] = None,
    from_beginning: Annotated[
        bool, typer.Option("--from-beginning", help="Start at the topic's first message.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per line: headers and value.")
    ] = False,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Stop after this many events.")
    ] = None,
    idle_seconds: Annotated[
        float | None,
        typer.Option("--idle-seconds", min=0.1, help="Stop after this long without messages."),
    ] = None,
) -> None:
    """Print each stored event as the relay publishes it, until Ctrl-C (or --limit/--idle)."""
    settings = Settings()
    servers = settings.kafka_bootstrap_servers or embedded_broker_address(settings.data_dir)
    if servers is None:
        raise BrokerUnavailable(
            "no KAFKA_BOOTSTRAP_SERVERS and no embedded broker running for "
            f"{settings.data_dir} (start `switchyard dev` or `switchyard relay`)"
        )
    config = TailConfig(
        bootstrap_servers=servers,
        topic=settings.kafka_topic,
        group=group or _default_group(),
        from_beginning=from_beginning,
        limit=limit,
        idle_seconds=idle_seconds,
        filter=TailFilter(tenant=tenant, plan=plan, type=event_type),
    )
    tail(config, _print_json if as_json else _print_line, stop_on_signals())


def _print_json(event: TailEvent) -> None:
    sys.stdout.write(json.dumps(event.as_json(), separators=(",", ":")) + "\n")
    sys.stdout.flush()


def _print_line(event: TailEvent) -> None:
    aggregate, version = event.key
    kind = event.type.removeprefix("switchyard.")
    scope = " ".join(
        f"{name}={value}"
        for name, value in (("tenant", event.tenant_id), ("plan", event.plan_id))
        if value
    )
    fields = [
        f"{name}={_short(value)}"
        for name, value in event.data.items()
        if name not in _HIDDEN_FIELDS and value not in (None, [], {})
    ][:SHOWN_FIELDS]
    time = event.headers.get("ce_time", "-")
    parts = [str(event.sequence), time, kind, f"{aggregate}@{version}", scope, *fields]
    sys.stdout.write(" ".join(part for part in parts if part) + "\n")
    sys.stdout.flush()


def _short(value: Any, width: int = 40) -> str:
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return text if len(text) <= width else text[: width - 1] + "…"
