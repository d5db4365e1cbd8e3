"""Read-your-writes on a real PostgreSQL: a wait for a sequence does not end on the relay's
new position paired with its old offsets when the relay commits between the two reads."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, event, insert, update

from switchyard.adapters.postgres.freshness import wait_for
from switchyard.adapters.postgres.tables import relay_offsets, relay_position
from switchyard.projections.tables import positions
from tests.integration.test_projector import store

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def relay_at(engine: Engine, topic: str, sequence: int, offset: int) -> None:
    """Record the relay's position and its partition 0 offset, in one transaction."""
    with engine.begin() as conn:
        conn.execute(delete(relay_position))
        conn.execute(insert(relay_position).values(id=1, position=sequence))
        conn.execute(delete(relay_offsets).where(relay_offsets.c.topic == topic))
        conn.execute(
            insert(relay_offsets).values(
                topic=topic, partition=0, last_offset=offset, last_sequence=sequence, last_time=NOW
            )
        )


def projector_at(engine: Engine, topic: str, next_offset: int) -> None:
    """Record the projector's next offset on partition 0."""
    with engine.begin() as conn:
        conn.execute(delete(positions).where(positions.c.topic == topic))
        conn.execute(
            insert(positions).values(
                topic=topic, partition=0, next_offset=next_offset, last_sequence=0, last_time=NOW
            )
        )


def test_a_relay_commit_between_the_reads_does_not_end_the_wait_early(
    pg_env: dict[str, str],
) -> None:
    topic = f"switchyard.test.{uuid.uuid4().hex[:8]}"
    with store(pg_env) as parts:
        engine = parts.store_engine()
        relay_at(engine, topic, sequence=10, offset=5)
        projector_at(engine, topic, next_offset=6)  # sequence 10 (offset 5) is applied

        def relay_commits(*_: Any) -> None:
            relay_at(engine, topic, sequence=11, offset=6)  # sequence 11 is offset 6

        event.listen(engine, "after_cursor_execute", relay_commits, once=True)
        try:
            assert not wait_for(engine, topic, 11, 0).fresh  # offset 6 is not applied
        finally:
            if event.contains(engine, "after_cursor_execute", relay_commits):
                event.remove(engine, "after_cursor_execute", relay_commits)

        with engine.begin() as conn:
            conn.execute(update(positions).where(positions.c.topic == topic).values(next_offset=7))
        assert wait_for(engine, topic, 11, 0).fresh
