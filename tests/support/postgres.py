"""SQLAlchemy engines on one schema of the test server, for the read tables' tests."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import Engine, create_engine


def schema_engine(database_url: str, schema: str) -> Engine:
    """An engine whose connections work in `schema` (dispose of it after use)."""

    def in_schema() -> psycopg.Connection[Any]:
        conn = psycopg.connect(database_url, autocommit=True)
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        conn.autocommit = False
        return conn

    return create_engine("postgresql+psycopg://", creator=in_schema)
