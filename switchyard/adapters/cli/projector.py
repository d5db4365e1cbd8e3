"""`switchyard projector`: the role that builds the read tables, its rebuild and its status."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from switchyard.adapters.bootstrap import Container, container
from switchyard.adapters.cli.common import JsonOption
from switchyard.adapters.cli.output import console, print_json
from switchyard.adapters.cli.roles import stop_on_signals
from switchyard.adapters.logs import LIFECYCLE, role_logs
from switchyard.adapters.postgres.freshness import ProjectorStatus, projector_status
from switchyard.adapters.settings import Settings

log = logging.getLogger(__name__)

app = typer.Typer(help="The projector: builds the read tables from the event topic.")

RebuildOption = Annotated[
    bool,
    typer.Option(
        "--rebuild",
        help="First rebuild every read table from the event store (queries keep answering).",
    ),
]


@app.callback(invoke_without_command=True)
def projector(ctx: typer.Context, rebuild_first: RebuildOption = False) -> None:
    """Apply the event topic to the read tables until SIGTERM or Ctrl-C (a consumer group)."""
    if ctx.invoked_subcommand is not None:
        return
    settings = Settings()
    with role_logs("projector", settings), container(settings, stop=stop_on_signals()) as parts:
        if rebuild_first:
            rebuild_from_store(parts)
        projector = parts.projector()
        log.info("metrics at %s", parts.serve_metrics("projector_metrics_port"), extra=LIFECYCLE)
        projector.run()


def rebuild_from_store(parts: Container) -> int:
    """Rebuild the read tables from the event store, showing progress; the last sequence."""
    with Progress(
        TextColumn("rebuilding read tables"), BarColumn(), MofNCompleteColumn(), console=console
    ) as bar:
        task = bar.add_task("rebuild", total=None)
        last = parts.rebuild_read_tables(
            lambda done, total: bar.update(task, completed=done, total=total)
        )
    console.print(f"read tables rebuilt from the store up to sequence {last}", highlight=False)
    return last


@app.command("status")
def status(as_json: JsonOption = False) -> None:
    """Show, per partition, what the relay published and how far the projector applied it."""
    settings = Settings()
    with container(settings) as parts, parts.read_engine().connect() as conn:
        store = parts.store_apart()
        if store is None:
            found = projector_status(conn, settings.kafka_topic)
        else:
            with store.connect() as on_store:
                found = projector_status(conn, settings.kafka_topic, on_store)
    print_json(found) if as_json else show_status(found)


def show_status(found: ProjectorStatus) -> None:
    """Print the projector's positions and lag, one row per partition."""
    table = Table(
        "partition",
        "published",
        "next offset",
        "lag (events)",
        "lag (s)",
        "applied at",
        title=f"topic {found.topic}; relay at sequence {found.relay_position}",
    )
    for p in found.partitions:
        table.add_row(
            str(p.partition),
            "-" if p.published is None else str(p.published),
            "-" if p.next_offset is None else str(p.next_offset),
            str(p.lag_events),
            "-" if p.lag_seconds is None else f"{p.lag_seconds:.1f}",
            "-" if p.applied_at is None else f"{_seconds_since(p.applied_at):.0f} s ago",
        )
    console.print(table)
    if found.held:
        console.print(
            f"{found.held} event(s) held: they came after a gap in their aggregate's versions",
            highlight=False,
        )


def _seconds_since(moment: datetime) -> float:
    return (datetime.now(UTC) - moment).total_seconds()
