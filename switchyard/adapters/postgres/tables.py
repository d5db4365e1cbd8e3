"""switchyard's own tables as SQLAlchemy Core: what its Alembic migrations build.

The migrations (`adapters.postgres.migrations`, run by `adapters.postgres.migrate`)
create these in the event store's schema; the statements run against them at
runtime stay plain SQL (`adapters.postgres.scheduler_tables`, `adapters.relay.store`).
A test compares these definitions with a migrated database, so the two cannot
drift apart. The library's events table is not here: the library owns it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Sequence,
    SmallInteger,
    Table,
    Text,
    Uuid,
    text,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateColumn
from sqlalchemy.sql.compiler import DDLCompiler

from switchyard.adapters.postgres.scheduler_tables import (
    FENCES,
    PLANS,
    TASKS,
    UNFINISHED_SQL,
)
from switchyard.adapters.relay.store import OFFSETS_TABLE, POSITION_TABLE

metadata = MetaData()
"""Every switchyard table, without a schema: the migrations put them in the store's."""


BIGSERIAL = "switchyard.bigserial"
"""The `info` key of a column created as `bigserial`."""


def bigserial(name: str) -> Column[int]:
    """A NOT NULL `bigserial` column: a bigint filled from a sequence of its own.

    SQLAlchemy creates SERIAL only for an integer primary key; the plans' `seq` is
    not one, and was `bigserial` before Alembic owned the tables. Its type is the
    bigint the database reports, so Alembic's comparisons see no change.
    """
    return Column(name, BigInteger, nullable=False, info={BIGSERIAL: True})


@compiles(CreateColumn, "postgresql")
def _create_column(element: CreateColumn, compiler: DDLCompiler, **kw: Any) -> str:
    column = element.element
    if not column.info.get(BIGSERIAL):
        default: Callable[..., str] = compiler.visit_create_column  # untyped in SQLAlchemy
        return default(element, **kw)
    return f"{compiler.preparer.format_column(column)} BIGSERIAL NOT NULL"


queue_plans = Table(
    PLANS,
    metadata,
    Column("plan_id", Uuid, primary_key=True),
    Column("max_concurrency", Integer, nullable=False),
    bigserial("seq"),
)
"""Each plan's concurrency limit, and its order of recording (`seq`)."""

queue_tasks = Table(
    TASKS,
    metadata,
    Column("task_id", Uuid, primary_key=True),
    Column("plan_id", Uuid, nullable=False),
    Column("tenant_id", Text, nullable=False),
    Column("position", Integer, nullable=False),
    Column("status", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("needs_worker", Boolean, nullable=False),
    Column("total_stages", Integer, nullable=False),
    Column("lease_owner", Text),
    Column("lease_expires", DateTime(timezone=True)),
    Column("fence", BigInteger),
    Column("current_stage", Text),
    Column("completed_stages", Integer, nullable=False, server_default=text("0")),
    Column("heartbeat_at", DateTime(timezone=True)),
    Index(
        "switchyard_queue_tasks_waiting",
        "plan_id",
        "position",
        postgresql_where=text("needs_worker"),
    ),
    Index(
        "switchyard_queue_tasks_to_resume",
        "plan_id",
        postgresql_where=text("needs_worker AND (lease_owner IS NOT NULL OR status <> 'QUEUED')"),
    ),
    Index(
        "switchyard_queue_tasks_leased",
        "plan_id",
        postgresql_where=text("lease_owner IS NOT NULL"),
    ),
    Index(
        "switchyard_queue_one_active_task_per_tenant",
        "tenant_id",
        unique=True,
        postgresql_where=text("lease_owner IS NOT NULL"),
    ),
    Index(
        "switchyard_queue_tasks_unfinished",
        "tenant_id",
        postgresql_where=text(f"status IN ({UNFINISHED_SQL})"),
    ),
)
"""Each task's queue state and lease (see `adapters.postgres.scheduler_tables`)."""

fences = Sequence(FENCES, metadata=metadata)
"""The fencing tokens claims draw."""

relay_position = Table(
    POSITION_TABLE,
    metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),
    Column("position", BigInteger, nullable=False),
    CheckConstraint("id = 1"),
)
"""The relay's one row: the last notification id the broker acknowledged."""

relay_offsets = Table(
    OFFSETS_TABLE,
    metadata,
    Column("topic", Text, primary_key=True),
    Column("partition", Integer, primary_key=True, autoincrement=False),
    Column("last_offset", BigInteger, nullable=False),
    Column("last_sequence", BigInteger, nullable=False),
    Column("last_time", DateTime(timezone=True), nullable=False),
)
"""Per partition, the last message the broker acknowledged, written with the position."""

idempotency_keys = Table(
    "switchyard_idempotency_keys",
    metadata,
    Column("token_id", Text, primary_key=True),
    Column("key", Text, primary_key=True),
    Column("fingerprint", Text, nullable=False),
    Column("status", SmallInteger, nullable=False),
    Column("headers", JSON, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("switchyard_idempotency_keys_age", "created_at"),
)
"""The API's idempotency keys: each request's fingerprint and stored response."""
