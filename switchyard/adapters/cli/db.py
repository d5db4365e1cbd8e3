"""`switchyard db ...` and `switchyard dev`: the embedded database and the dev role."""

from __future__ import annotations

import typer

from switchyard.adapters.bootstrap import bootstrap, database_url
from switchyard.adapters.cli.common import with_app
from switchyard.adapters.embedded import postgres as embedded_postgres
from switchyard.adapters.postgres.event_store import TransactionalRecorder
from switchyard.adapters.postgres.migrate import current_revision, datastore_params
from switchyard.adapters.settings import Settings
from switchyard.application.app import Switchyard

app = typer.Typer(
    help="The database: start, stop or locate the embedded PostgreSQL; migrate its tables."
)


@app.command("up")
def up() -> None:
    """Start the embedded PostgreSQL (or reuse it), create the tables, print its URL."""
    settings = Settings()
    url = database_url(settings, keep_running=True)
    bootstrap(settings).close()
    typer.echo(url)


@app.command("migrate")
def migrate() -> None:
    """Create the event store's table and apply switchyard's migrations; print the revision."""
    typer.echo(with_app(_migrate))


def _migrate(app: Switchyard, settings: Settings) -> str | None:
    # Whatever SWITCHYARD_CREATE_TABLES says: that setting is for the roles, and
    # this command is how the tables are made for roles that may not make them.
    recorder = app.recorder
    if not isinstance(recorder, TransactionalRecorder):
        raise TypeError(f"not switchyard's recorder: {type(recorder).__name__}")
    recorder.create_table()
    datastore = recorder.datastore
    return current_revision(datastore_params(datastore), datastore.schema)


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
