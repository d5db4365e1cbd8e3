"""`switchyard db ...` and `switchyard dev`: the embedded database and the dev role."""

from __future__ import annotations

import typer

from switchyard.adapters.bootstrap import bootstrap, database_url
from switchyard.adapters.embedded import postgres as embedded_postgres
from switchyard.adapters.settings import Settings

app = typer.Typer(help="The database: start, stop or locate the embedded PostgreSQL.")


@app.command("up")
def up() -> None:
    """Start the embedded PostgreSQL (or reuse it), create the tables, print its URL."""
    settings = Settings()
    url = database_url(settings, keep_running=True)
    bootstrap(settings).close()
    typer.echo(url)


@app.command("down")
def down() -> None:
    """Stop the embedded PostgreSQL; its data stays in the data folder."""
    stopped = embedded_postgres.stop(Settings().data_dir)
    typer.echo("stopped" if stopped else "not running")


@app.command("url")
def url() -> None:
    """Print the database URL in use (DATABASE_URL, or the embedded server's if running)."""
    settings = Settings()
    found = settings.database_url or embedded_postgres.running_url(settings.data_dir)
    if found is None:
        typer.echo("the embedded database is not running (start it: switchyard db up)", err=True)
        raise typer.Exit(1)
    typer.echo(found)
