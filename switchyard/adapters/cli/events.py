"""`switchyard events ...`: the published messages' JSON Schemas and documented examples."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from switchyard.adapters.kafka.docs import update_examples
from switchyard.adapters.kafka.event_schemas import write_schemas

app = typer.Typer(help="The published messages: write their JSON Schemas and examples.")


@app.command("schemas")
def schemas(
    out: Annotated[
        Path, typer.Option("--out", file_okay=False, help="The folder to write them into.")
    ] = Path("docs/schemas"),
) -> None:
    """Write a JSON Schema per message type (and per topic's headers) into a folder."""
    for path in write_schemas(out):
        typer.echo(path)


@app.command("examples")
def examples(
    page: Annotated[
        Path,
        typer.Option("--page", exists=True, dir_okay=False, help="The page with the markers."),
    ] = Path("docs/events.md"),
) -> None:
    """Rewrite the example messages in the events page from a fresh in-memory run."""
    changed = update_examples(page)
    typer.echo(f"{page}: {'rewritten' if changed else 'up to date'}")
