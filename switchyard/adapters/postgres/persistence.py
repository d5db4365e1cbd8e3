"""PostgreSQL wiring for the event store, and the one table that maps its errors.

`DATABASE_URL` (any libpq URL or key=value string) is turned into the
`eventsourcing` library's POSTGRES_* settings. The library's DB-functions mode
stays off: without its table lock, readers following the log could skip events.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from eventsourcing import persistence as es
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy import exc as sa

from switchyard.adapters.error_tables import first_line, most_specific
from switchyard.adapters.postgres.event_store import RECORDER_TOPIC
from switchyard.domain.errors import (
    ConcurrentUpdate,
    StoreRefused,
    StoreUnavailable,
    SwitchyardError,
)


def event_store_env(
    database_url: str, pool_size: int = 5, connect_timeout: int = 5, create_tables: bool = True
) -> dict[str, str]:
    """The eventsourcing settings that put the event store on the given server."""
    parts = conninfo_to_dict(database_url)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": str(parts.get("dbname") or "postgres"),
        "POSTGRES_HOST": str(parts.get("host") or "localhost"),
        "POSTGRES_PORT": str(parts.get("port") or "5432"),
        "POSTGRES_USER": str(parts.get("user") or "postgres"),
        "POSTGRES_PASSWORD": str(parts.get("password") or ""),
        "POSTGRES_POOL_SIZE": str(pool_size),
        "POSTGRES_CONNECT_TIMEOUT": str(connect_timeout),
        # No pre-ping: it costs a round trip per checkout; the library retries a
        # statement that meets a dropped connection.
        "POSTGRES_PRE_PING": "n",
        "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
        "CREATE_TABLE": "y" if create_tables else "n",
        "APPLICATION_RECORDER_TOPIC": RECORDER_TOPIC,
    }


ERROR_TABLE: dict[type[BaseException], type[SwitchyardError]] = {
    es.IntegrityError: ConcurrentUpdate,
    es.RecordConflictError: ConcurrentUpdate,
    es.ConnectionUnavailableError: StoreUnavailable,
    es.OperationalError: StoreUnavailable,
    es.InterfaceError: StoreUnavailable,
    es.WaitInterruptedError: StoreUnavailable,
    es.DataError: StoreRefused,
    es.InternalError: StoreRefused,
    es.ProgrammingError: StoreRefused,
    es.NotSupportedError: StoreRefused,
    es.DatabaseError: StoreRefused,
    es.PersistenceError: StoreRefused,
    es.ConnectionPoolClosedError: StoreUnavailable,
    es.ConnectionNotFromPoolError: StoreRefused,
    es.InfrastructureFactoryError: StoreUnavailable,
    es.TranscodingNotRegisteredError: StoreRefused,
    es.MapperDeserialisationError: StoreRefused,
    es.ShutDown: StoreUnavailable,
    psycopg.OperationalError: StoreUnavailable,
    psycopg.InterfaceError: StoreUnavailable,
    psycopg.Error: StoreRefused,
    # The migrations run on SQLAlchemy, which wraps the driver's errors in its own.
    sa.OperationalError: StoreUnavailable,
    sa.InterfaceError: StoreUnavailable,
    sa.DBAPIError: StoreRefused,
}
"""Each store exception class and the switchyard error it becomes."""


def map_store_error(exc: BaseException) -> SwitchyardError | None:
    """The switchyard error for a store exception (most specific match), or None."""
    error = most_specific(exc, ERROR_TABLE)
    return None if error is None else error(f"{error.title}: {first_line(exc)}")


@contextmanager
def store_errors() -> Iterator[None]:
    """Raise store exceptions as switchyard errors, keeping the cause."""
    try:
        yield
    except SwitchyardError:
        raise
    except Exception as exc:
        mapped = map_store_error(exc)
        if mapped is None:
            raise
        raise mapped from exc
