"""What the CLI's queries share: reading the read tables, read-your-writes, and saying so
when the tables are behind the event store.

A query given `--min-sequence S` (the sequence a command printed) waits, up to
SWITCHYARD_READ_WAIT_SECONDS, until the read tables reflect S
(`adapters.postgres.freshness`), and fails with `read.stale` if they do not.
Without it, a query answers from the tables as they are, and when they are
behind the store it says so on stderr (in the error, for something not found),
with the relay's and the projector's positions, rather than show old rows
silently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, TypeVar

import typer
from sqlalchemy import Connection, Engine

from switchyard.adapters.bootstrap import container
from switchyard.adapters.cli.output import errors
from switchyard.adapters.postgres.freshness import behind, projector_status, wait_for
from switchyard.adapters.postgres.persistence import store_errors
from switchyard.adapters.postgres.read_store import reading
from switchyard.adapters.settings import Settings
from switchyard.domain.errors import NotFound, ReadStale
from switchyard.domain.retry import parse_duration

T = TypeVar("T")

MinSequenceOption = Annotated[
    int | None,
    typer.Option(
        "--min-sequence",
        min=1,
        help="Wait until the read tables reflect this sequence (a command's), or fail.",
    ),
]
LimitOption = Annotated[int, typer.Option("--limit", min=1, max=1000, help="Rows per page.")]


def read_tables(action: Callable[[Connection], T], min_sequence: int | None = None) -> T:
    """Run `action` on the read tables (after waiting for `min_sequence`); note staleness."""
    settings = Settings()
    topic = settings.kafka_topic
    with (
        container(settings, announce=lambda line: typer.echo(line, err=True)) as parts,
        store_errors(),
    ):
        engine, store = parts.read_engine(), parts.store_apart()
        if min_sequence is not None:
            found = wait_for(engine, topic, min_sequence, settings.read_wait_seconds, store)
            if not found.fresh:
                raise ReadStale(
                    f"the read tables do not reflect sequence {min_sequence} after "
                    f"{settings.read_wait_seconds:g} s: {behind(found.status)}",
                    sequence=min_sequence,
                )
        newest = parts.app.recorder.max_notification_id() or 0
        with reading(engine) as conn, _on_store(conn, store) as on_store:
            try:
                result = action(conn)
            except NotFound as exc:
                lag = _lag(conn, topic, newest, on_store)
                if lag:
                    exc.message += f" in the read tables, which are behind: {lag}"
                raise
            lag = _lag(conn, topic, newest, on_store)
        if lag:
            errors.print(f"note: the read tables are behind: {lag}", highlight=False)
        return result


@contextmanager
def _on_store(conn: Connection, store: Engine | None) -> Iterator[Connection]:
    """A connection to the relay's marks: `conn`, or one on the store if it is apart."""
    if store is None:
        yield conn
        return
    with store.connect() as on_store:
        yield on_store


def _lag(conn: Connection, topic: str, newest: int, store: Connection) -> str:
    """How the read tables are behind the store, in words ("" if they are not)."""
    status = projector_status(conn, topic, store)
    if status.relay_position < newest or status.lag_events or status.held:
        return behind(status, newest)
    return ""


def parse_time(value: str | None) -> datetime | None:
    """An ISO 8601 time (UTC if it names no zone), or a duration ago ("2h", "30m")."""
    if value is None:
        return None
    try:
        return datetime.now(UTC) - timedelta(seconds=parse_duration(value))
    except ValueError:
        pass
    try:
        found = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is neither a time (2026-12-01T10:00:00Z) nor a duration ago (2h)"
        ) from None
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def iso(moment: datetime | None) -> str | None:
    """A time as ISO 8601, for a query parameter (None stays None)."""
    return None if moment is None else moment.isoformat()


TimeOption = Annotated[
    str | None, typer.Option(help="A time (2026-12-01T10:00Z) or how long ago (30m, 2h).")
]
