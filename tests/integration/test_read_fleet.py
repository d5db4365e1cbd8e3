"""Fleet questions on the read tables built from a recorded history: a plan's tasks paged
and filtered, which tenants run which version, and which are blocked and by which task."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

import pytest
from sqlalchemy import Connection, Engine

from switchyard.adapters.postgres.read_store import apply
from switchyard.application.app import Switchyard
from switchyard.projections.fleet import TaskRow, get_task, list_tenants, plan_tasks
from switchyard.projections.queries import get_plan
from tests.integration.test_read_model import engines as engines
from tests.integration.test_read_rebuild import logged_events
from tests.support.builders import plan_request, run_stages, tenant


@pytest.fixture()
def fleet(
    pg_app: Switchyard, engines: tuple[Engine, Engine]
) -> Iterator[tuple[Connection, dict[str, UUID]]]:
    """Plan one: t00..t09 on 2.5.0, t00..t04 switched, t05 failed. Plan two: t00, t05 and
    t06 on 3.0.0, of which t06 waits for its plan-one task. The tables, and the task ids."""
    one = pg_app.create_plan(plan_request(*(f"t{i:02}" for i in range(10))), "cli:alice")
    ids = {f"one/t{i:02}": task_id for i, task_id in enumerate(one.task_ids)}
    for i in range(5):
        run_stages(pg_app, ids[f"one/t{i:02}"], 3)
    run_stages(pg_app, ids["one/t05"], 1, fail_next=True)
    newer = [tenant(t, targetVersion="3.0.0") for t in ("t00", "t05", "t06")]
    two = pg_app.create_plan(plan_request(*newer), "cli:bob")
    ids |= {
        f"two/{t}": task_id for t, task_id in zip(("t00", "t05", "t06"), two.task_ids, strict=True)
    }
    ids |= {"plan one": one.plan_id, "plan two": two.plan_id}
    engine, _ = engines
    with engine.connect() as conn:
        apply(conn, logged_events(pg_app))
        with conn.begin():
            yield conn, ids


def paged_tasks(conn: Connection, plan_id: str, page: int, **filters: str) -> list[TaskRow]:
    """Every task of the plan the filters give, read `page` rows at a time."""
    found: list[TaskRow] = []
    while True:
        rows = plan_tasks(
            conn, plan_id, limit=page, after=found[-1].position if found else None, **filters
        )
        found += rows
        if len(rows) < page:
            return found


def test_a_plans_tasks_page_in_fifo_order_and_filter_by_status(
    fleet: tuple[Connection, dict[str, UUID]],
) -> None:
    conn, ids = fleet
    plan = str(ids["plan one"])
    summary = get_plan(conn, plan)
    assert summary is not None
    assert (summary.tasks_total, summary.stages_done, summary.stages_total) == (10, 16, 30)
    assert summary.task_counts == {"COMPLETED": 5, "FAILED": 1, "QUEUED": 4}
    every = paged_tasks(conn, plan, 3)
    assert [t.tenant_id for t in every] == [f"t{i:02}" for i in range(10)]
    assert [t.tenant_id for t in paged_tasks(conn, plan, 2, status="QUEUED")] == [
        "t06",
        "t07",
        "t08",
        "t09",
    ]
    failed = get_task(conn, str(ids["one/t05"]))
    assert failed is not None and failed.status == "FAILED" and failed.has_checkpoint
    assert get_plan(conn, str(UUID(int=1))) is None


def test_tenants_by_version_service_type_and_status(
    fleet: tuple[Connection, dict[str, UUID]],
) -> None:
    conn, _ = fleet
    on = [t.tenant_id for t in list_tenants(conn, version="2.5.0")]
    assert on == ["t00", "t01", "t02", "t03", "t04"]
    assert [t.tenant_id for t in list_tenants(conn, status="FAILED")] == []
    assert len(list_tenants(conn, service_type="blue-green-gateway")) == 10
    assert [t.tenant_id for t in list_tenants(conn, service_type="portal")] == []
    queued = [t.tenant_id for t in list_tenants(conn, status="QUEUED", limit=3)]
    assert queued == ["t00", "t05", "t06"]
    rest = list_tenants(conn, status="QUEUED", after="t06")
    assert [t.tenant_id for t in rest] == ["t07", "t08", "t09"]


def test_a_blocked_tenant_names_the_older_task_it_waits_for(
    fleet: tuple[Connection, dict[str, UUID]],
) -> None:
    conn, ids = fleet
    blocked = list_tenants(conn, blocked=True)
    assert [(t.tenant_id, t.blocked_by) for t in blocked] == [("t06", str(ids["one/t06"]))]
    waiting = get_task(conn, str(ids["two/t06"]))
    assert waiting is not None and waiting.waiting_for == str(ids["one/t06"])
    # t05's plan-one task failed (finished): its plan-two task waits for nothing.
    after_failure = get_task(conn, str(ids["two/t05"]))
    assert after_failure is not None and after_failure.waiting_for is None
