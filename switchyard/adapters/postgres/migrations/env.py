"""Alembic's environment: migrate on the connection and schema `adapters.postgres.migrate` gives.

That connection is already in the transaction that holds the migration lock, so
Alembic's own transaction is a no-op and the caller commits. There is no offline
(SQL script) mode: the migrations read the schema from the live context.
"""

from __future__ import annotations

from alembic import context

from switchyard.adapters.postgres.migrate import VERSION_TABLE
from switchyard.adapters.postgres.tables import metadata
from switchyard.projections.tables import read_metadata

config = context.config
if context.is_offline_mode():
    raise RuntimeError("switchyard's migrations run against a database, not as a script")
context.configure(
    connection=config.attributes["connection"],
    target_metadata=[metadata, read_metadata],
    version_table=VERSION_TABLE,
    version_table_schema=config.attributes["schema"],
)
with context.begin_transaction():
    context.run_migrations()
