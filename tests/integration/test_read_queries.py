"""The SREs' queries on the read tables: filters and keyset pages return exactly the right
rows (none unseen, none twice), and each query's plan uses an index."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, text

from switchyard.adapters.kafka.examples import scenario
from switchyard.adapters.postgres.read_store import apply, url_engine
from switchyard.projections.events import ProjectedEvent, from_message
from switchyard.projections.queries import (
    PAGE_PAYLOAD_BYTES,
    AuditRow,
    PlanCursor,
    audit,
    audit_event_row,
    list_plans,
)
from tests.integration.test_read_model import engines as engines


@pytest.fixture()
def history(engines: tuple[Engine, Engine]) -> Iterator[tuple[Connection, list[ProjectedEvent]]]:
    """The scenario's events, applied; a connection to the tables and the events."""
    engine, _ = engines
    events = [from_message(p.record.headers, p.record.value) for p in scenario()]
    with engine.connect() as conn:
        apply(conn, events)
        with conn.begin():
            yield conn, events


def paged(conn: Connection, page: int, **filters: Any) -> list[AuditRow]:
    """Every audit row the filters give, read `page` rows at a time."""
    found: list[AuditRow] = []
    while True:
        rows = audit(conn, limit=page, after=found[-1].sequence if found else None, **filters)
        found += rows
        if len(rows) < page:
            return found


def test_audit_filters_return_exactly_the_matching_events(
    history: tuple[Connection, list[ProjectedEvent]],
) -> None:
    conn, events = history
    task = next(e.aggregate_id for e in events if e.aggregate_type == "Task")
    middle = sorted(e.time for e in events)[len(events) // 2]
    cases: list[tuple[dict[str, Any], list[ProjectedEvent]]] = [
        ({}, events),
        ({"task": task}, [e for e in events if e.aggregate_id == task]),
        ({"tenant": "acme"}, [e for e in events if e.tenant_id == "acme"]),
        ({"actor": "cli:bob"}, [e for e in events if e.actor == "cli:bob"]),
        ({"type": "StageStarted"}, [e for e in events if e.name == "StageStarted"]),
        (
            {"type": "Plan.Created"},
            [e for e in events if e.aggregate_type == "Plan" and e.name == "Created"],
        ),
        ({"since": middle}, [e for e in events if e.time >= middle]),
        (
            {"until": middle, "tenant": "globex"},
            [e for e in events if e.time < middle and e.tenant_id == "globex"],
        ),
    ]
    plan = next(e.plan_id for e in events if e.plan_id is not None)
    cases.append(({"plan": plan}, [e for e in events if e.plan_id == plan]))
    for filters, expected in cases:
        newest = sorted((e.sequence for e in expected), reverse=True)
        assert newest, filters
        assert [r.sequence for r in paged(conn, 4, **filters)] == newest, filters
        oldest = paged(conn, 3, oldest_first=True, **filters)
        assert [r.sequence for r in oldest] == newest[::-1], filters


def test_a_page_leaves_out_a_large_payload_which_its_event_has_whole(
    engines: tuple[Engine, Engine],
) -> None:
    engine, _ = engines
    events = [from_message(p.record.headers, p.record.value) for p in scenario()]
    created = next(e for e in events if e.aggregate_type == "Plan" and e.name == "Created")
    # Hex does not compress below half: stored at least twice the page's limit.
    notes = secrets.token_hex(2 * PAGE_PAYLOAD_BYTES)
    large = replace(created, payload={**created.payload, "notes": notes})
    events = [large if e is created else e for e in events]
    with engine.connect() as conn:
        apply(conn, events)
        page = {row.sequence: row for row in audit(conn, limit=len(events))}
        whole = audit_event_row(conn, large.sequence)
        assert audit_event_row(conn, large.sequence, tenants=["nobody"]) is None
        assert audit_event_row(conn, max(page) + 1) is None

    assert page[large.sequence].payload is None
    assert whole is not None and whole.payload == large.payload
    assert all(page[e.sequence].payload == e.payload for e in events if e is not large)


def test_plans_are_listed_newest_first_in_pages(
    history: tuple[Connection, list[ProjectedEvent]],
) -> None:
    conn, events = history
    created = [e for e in events if e.aggregate_type == "Plan" and e.name == "Created"]
    newest = [
        e.aggregate_id
        for e in sorted(created, key=lambda e: (e.time, e.aggregate_id), reverse=True)
    ]
    found: list[str] = []
    cursor: PlanCursor | None = None
    while True:
        page = list_plans(conn, limit=1, after=cursor)
        if not page:
            break
        found += [p.plan_id for p in page]
        last = page[-1]
        assert last.created_at is not None
        cursor = PlanCursor(last.created_at, last.plan_id)
    assert found == newest
    assert [p.plan_id for p in list_plans(conn, actor="cli:alice")] == [
        e.aggregate_id
        for e in sorted(created, key=lambda e: e.time, reverse=True)
        if e.actor == "cli:alice"
    ]
    since = sorted(e.time for e in created)[1]
    assert len(list_plans(conn, since=since)) == len(created) - 1
    for plan in list_plans(conn):
        assert list_plans(conn, status=plan.status)


def test_the_read_engine_reads_any_json_whole(database_url: str) -> None:
    value = '{"big": 1180591620717411303424, "x": [1.5, null, "é"], "n": {"ok": true}}'
    engine = url_engine(database_url)
    try:
        with engine.connect() as conn:
            got = conn.execute(text("SELECT CAST(:v AS jsonb)"), {"v": value}).scalar()
    finally:
        engine.dispose()
    assert got == {"big": 2**70, "x": [1.5, None, "é"], "n": {"ok": True}}
