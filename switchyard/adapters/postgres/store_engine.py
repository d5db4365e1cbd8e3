"""A SQLAlchemy engine on the event store's database and schema, where the read tables are.

For a command that reads them once (the plan report): connections are made
with the event store's own parameters (`migrate.datastore_params`), work in its
schema, and are not pooled beyond the command.
"""

from __future__ import annotations

from typing import Any

import psycopg
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import sql
from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import NullPool

from switchyard.adapters.postgres.migrate import datastore_params
from switchyard.application.app import Switchyard


def store_engine(app: Switchyard) -> Engine:
    """An engine whose connections work in the schema of the application's event store."""
    recorder = app.recorder
    if not isinstance(recorder, PostgresApplicationRecorder):
        raise TypeError("the read tables live in the PostgreSQL event store")
    params = datastore_params(recorder.datastore)
    schema = recorder.datastore.schema or "public"

    def in_schema() -> psycopg.Connection[Any]:
        conn = psycopg.connect(**params, autocommit=True)
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        conn.autocommit = False
        return conn

    return create_engine("postgresql+psycopg://", creator=in_schema, poolclass=NullPool)
