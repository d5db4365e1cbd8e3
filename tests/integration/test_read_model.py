"""The read tables built from the relay's messages: exactly once per (aggregate, version),
early events held until their gap fills, and roll-ups that do not depend on the order
different aggregates' events arrive in (duplicate, out of order, lost write)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select, text

from switchyard.adapters.kafka.examples import scenario
from switchyard.adapters.postgres.migrate import migrate
from switchyard.adapters.postgres.read_store import Consumed, apply, read_positions
from switchyard.projections.apply import held_events
from switchyard.projections.events import ProjectedEvent, from_message
from switchyard.projections.tables import (
    plans,
    positions,
    read_metadata,
    stage_runs,
    tasks,
    tenants,
)
from tests.integration.test_migrations import fresh_schema
from tests.support.postgres import schema_engine

BOOKKEEPING = {positions.name}
"""Tables whose rows are not the read model's (the positions are the caller's)."""


@pytest.fixture(scope="module")
def messages() -> list[ProjectedEvent]:
    """Every event of the documented scenario, as the relay's messages carry them."""
    return [from_message(p.record.headers, p.record.value) for p in scenario()]


def _engine(database_url: str, schema: str) -> Engine:
    migrate(database_url, schema)
    return schema_engine(database_url, schema)


@pytest.fixture()
def engines(database_url: str) -> Iterator[tuple[Engine, Engine]]:
    """Two engines, each on its own freshly migrated schema."""
    one, two = fresh_schema(database_url), fresh_schema(database_url)
    first, second = _engine(database_url, next(one)), _engine(database_url, next(two))
    yield first, second
    first.dispose()
    second.dispose()
    for schema in (one, two):
        next(schema, None)


def rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every read table, in a fixed order."""
    with engine.connect() as conn:
        return {
            name: sorted(
                (tuple(map(repr, row)) for row in conn.execute(table.select()).all()),
            )
            for name, table in read_metadata.tables.items()
            if name not in BOOKKEEPING
        }


def apply_each(engine: Engine, events: list[ProjectedEvent], batch: int = 7) -> None:
    """Apply the events in batches of `batch`, one transaction each."""
    with engine.connect() as conn:
        for start in range(0, len(events), batch):
            apply(conn, events[start : start + batch])


def interleaved(events: list[ProjectedEvent], seed: int) -> list[ProjectedEvent]:
    """The events in another order: each aggregate's in version order, the aggregates shuffled
    together (as partitions deliver them)."""
    queues: dict[str, list[ProjectedEvent]] = {}
    for event in events:
        queues.setdefault(event.aggregate_id, []).append(event)
    pick = random.Random(seed)
    order: list[ProjectedEvent] = []
    while queues:
        key = pick.choice(sorted(queues))
        order.append(queues[key].pop(0))
        if not queues[key]:
            del queues[key]
    return order


def test_the_scenario_builds_every_table(
    engines: tuple[Engine, Engine], messages: list[ProjectedEvent]
) -> None:
    engine, _ = engines
    apply_each(engine, messages)
    with engine.connect() as conn:
        plan_rows = conn.execute(select(plans).order_by(plans.c.created_at)).all()
        task_rows = conn.execute(select(tasks)).all()
        tenant_rows = {r.tenant_id: r for r in conn.execute(select(tenants)).all()}
        audited = conn.execute(text("SELECT count(*) FROM switchyard_read_audit")).scalar()
    assert audited == len(messages)
    assert plan_rows[0].name == "green-rollout-2.5.0"
    assert sum(p.tasks_total for p in plan_rows) == len(task_rows) == 6
    for plan in plan_rows:
        assert sum(plan.task_counts.values()) == plan.tasks_total
    assert tenant_rows["globex"].version == "2.5.0"
    assert tenant_rows["acme"].latest_task_status == "ROLLED_BACK"
    assert tenant_rows["acme"].version is None
    acme = tenant_rows["acme"].latest_task
    with engine.connect() as conn:
        undone = conn.execute(
            select(stage_runs.c.stage_name, stage_runs.c.outcome)
            .where((stage_runs.c.task_id == acme) & stage_runs.c.outcome.like("ROLL%"))
            .order_by(stage_runs.c.ended_at)
        ).all()
    undos = ("StageRolledBack", "RollbackFailed")
    undo_events = [m for m in messages if m.aggregate_id == acme and m.name in undos]
    assert len(undone) == len(undo_events) > 0


def test_applying_the_same_events_twice_changes_nothing(
    engines: tuple[Engine, Engine], messages: list[ProjectedEvent]
) -> None:
    once, twice = engines
    apply_each(once, messages)
    apply_each(twice, messages)
    apply_each(twice, messages, batch=13)
    with twice.connect() as conn:
        result = apply(conn, messages[:10])
    assert result.applied == 0
    assert result.duplicates == 10
    assert rows(twice) == rows(once)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_interleaving_aggregates_gives_the_same_rows(
    engines: tuple[Engine, Engine], messages: list[ProjectedEvent], seed: int
) -> None:
    in_order, shuffled = engines
    apply_each(in_order, messages)
    apply_each(shuffled, interleaved(messages, seed), batch=5)
    assert rows(shuffled) == rows(in_order)


def test_an_early_event_is_held_until_the_gap_fills(
    engines: tuple[Engine, Engine], messages: list[ProjectedEvent]
) -> None:
    in_order, gapped = engines
    apply_each(in_order, messages)
    task = next(m for m in messages if m.aggregate_type == "Task").aggregate_id
    third = next(m for m in messages if m.aggregate_id == task and m.version == 3)
    others = [m for m in messages if m is not third]
    with gapped.connect() as conn:
        result = apply(conn, others)
        assert result.held > 0
        with conn.begin():
            waiting = held_events(conn)
        assert {(a, v) for a, v, _ in waiting} == {
            (task, m.version) for m in messages if m.aggregate_id == task and m.version > 3
        }
        apply(conn, [third])
        with conn.begin():
            assert held_events(conn) == []
    assert rows(gapped) == rows(in_order)


def test_positions_commit_with_the_rows(
    engines: tuple[Engine, Engine], messages: list[ProjectedEvent]
) -> None:
    engine, _ = engines
    with engine.connect() as conn:
        apply(
            conn,
            messages[:5],
            {("switchyard.events", 0): Consumed(5), ("switchyard.events", 1): Consumed(2)},
        )
        apply(conn, messages[5:9], {("switchyard.events", 0): Consumed(9)})
    assert read_positions(engine, "switchyard.events") == {0: 9, 1: 2}
