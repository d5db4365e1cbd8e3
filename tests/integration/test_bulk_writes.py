"""The projector's pipelined writes on a real PostgreSQL: they all land, and an error at a
pipeline's end is raised as SQLAlchemy raises one (the projector retries a batch on a
`DBAPIError`) and writes nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from switchyard.adapters.postgres.migrate import migrate
from switchyard.projections.bulk import insert_rows, pipelined
from switchyard.projections.tables import tenants
from tests.integration.test_migrations import fresh_schema
from tests.support.postgres import schema_engine


@pytest.fixture()
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on a freshly migrated schema."""
    schemas = fresh_schema(database_url)
    schema = next(schemas)
    migrate(database_url, schema)
    made = schema_engine(database_url, schema)
    yield made
    made.dispose()
    next(schemas, None)


def test_an_error_at_a_pipelines_end_is_a_dbapi_error_and_writes_nothing(engine: Engine) -> None:
    with (
        pytest.raises(DBAPIError) as raised,
        engine.connect() as conn,
        conn.begin(),
        pipelined(conn),
    ):
        insert_rows(conn, tenants, [{"tenant_id": "acme"}])
        insert_rows(conn, tenants, [{"tenant_id": "acme"}])  # the same key: refused
    assert isinstance(raised.value, IntegrityError)
    with engine.connect() as conn:
        assert conn.execute(select(tenants.c.tenant_id)).all() == []
        conn.execute(text("SELECT 1"))  # the pooled connection still works


def test_pipelined_writes_all_land(engine: Engine) -> None:
    with engine.connect() as conn, conn.begin(), pipelined(conn):
        insert_rows(conn, tenants, [{"tenant_id": "acme"}, {"tenant_id": "globex"}])
        insert_rows(conn, tenants, [{"tenant_id": "acme"}], skip_existing=True)
    with engine.connect() as conn:
        found = conn.execute(select(tenants.c.tenant_id).order_by(tenants.c.tenant_id)).all()
    assert [row.tenant_id for row in found] == ["acme", "globex"]
