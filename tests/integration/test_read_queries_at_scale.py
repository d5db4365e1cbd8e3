"""The SREs' queries on a generated history of over 100,000 events (issue 11): every
filter of the audit trail, plans, a plan's tasks and tenants, paged by keyset, returns
exactly the rows Python picks from the generated data, in order (none unseen, none
twice, none out of order); and the very statement each query runs is planned, on those
tables after ANALYZE, with a switchyard_read_* index and no sequential scan."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from sqlalchemy import Connection, Engine, Select

from switchyard.adapters.postgres.migrate import migrate
from switchyard.projections.fleet import (
    TenantRow,
    get_task,
    get_task_params,
    get_task_query,
    list_tenants,
    list_tenants_query,
    plan_tasks,
    plan_tasks_query,
)
from switchyard.projections.queries import (
    AuditRow,
    PlanCursor,
    PlanRow,
    audit,
    audit_query,
    get_plan,
    get_plan_query,
    list_plans,
    list_plans_query,
)
from tests.integration.test_migrations import fresh_schema
from tests.support.postgres import schema_engine
from tests.support.read_history import History, generate, write

Row = TypeVar("Row")
Key = TypeVar("Key")
Filters = Callable[[History], dict[str, Any]]


def _at(history: History, fraction: float) -> Any:
    """The time of the event that far along the log."""
    return history.audit[int(len(history.audit) * fraction)].time


def _busiest(history: History, field: str) -> Any:
    """The value of the audit rows' `field` that most rows have (None aside)."""
    values = Counter(getattr(row, field) for row in history.audit)
    del values[None]
    return values.most_common(1)[0][0]


def _big_plan(history: History) -> str:
    return max(history.plans, key=lambda plan: plan.tasks_total).plan_id


AUDIT_CASES: dict[str, Filters] = {
    "everything": lambda h: {},
    "task": lambda h: {"task": h.tasks[len(h.tasks) // 3].task_id},
    "busiest tenant": lambda h: {"tenant": _busiest(h, "tenant_id")},
    "big plan": lambda h: {"plan": _big_plan(h)},
    "small plan": lambda h: {"plan": h.plans[7].plan_id},
    "actor": lambda h: {"actor": "cli:bob"},
    "type": lambda h: {"type": "StageFailed"},
    "type of both aggregates": lambda h: {"type": "Created"},
    "Task.Created": lambda h: {"type": "Task.Created"},
    "Plan.Created": lambda h: {"type": "Plan.Created"},
    "TenantTasks.Registered": lambda h: {"type": "TenantTasks.Registered"},
    "since": lambda h: {"since": _at(h, 0.9)},
    "until": lambda h: {"until": _at(h, 0.1)},
    "window": lambda h: {"since": _at(h, 0.4), "until": _at(h, 0.45)},
    "tenant and type": lambda h: {"tenant": _busiest(h, "tenant_id"), "type": "Task.Started"},
    "actor since": lambda h: {"actor": "cli:carol", "since": _at(h, 0.5)},
    "plan, type, until": lambda h: {
        "plan": _big_plan(h),
        "type": "StageCompleted",
        "until": _at(h, 0.5),
    },
    "type in a window": lambda h: {
        "type": "Task.Failed",
        "since": _at(h, 0.2),
        "until": _at(h, 0.7),
    },
}
"""Each audit filter alone and in combinations, as the test picks them from the history."""

AUDIT_FIELDS: dict[str, Callable[[AuditRow, Any], bool]] = {
    "task": lambda row, v: row.aggregate_id == v,
    "tenant": lambda row, v: row.tenant_id == v,
    "plan": lambda row, v: row.plan_id == v,
    "actor": lambda row, v: row.actor == v,
    "type": lambda row, v: v in (row.event_type, f"{row.aggregate_type}.{row.event_type}"),
    "since": lambda row, v: row.time >= v,
    "until": lambda row, v: row.time < v,
}
"""What each audit filter means, said in Python."""

PLAN_CASES: dict[str, Filters] = {
    "everything": lambda h: {},
    "status": lambda h: {"status": "FAILED"},
    "since": lambda h: {"since": _at(h, 0.8)},
    "actor": lambda h: {"actor": "cli:alice"},
    "actor and status": lambda h: {"actor": "api:deploybot", "status": "COMPLETED"},
    "actor since": lambda h: {"actor": "cli:dave", "since": _at(h, 0.3)},
}

TASK_CASES: dict[str, Filters] = {
    "big plan": lambda h: {"plan_id": _big_plan(h)},
    "big plan, failed": lambda h: {"plan_id": _big_plan(h), "status": "FAILED"},
    "big plan, queued": lambda h: {"plan_id": _big_plan(h), "status": "QUEUED"},
    "small plan": lambda h: {"plan_id": h.plans[7].plan_id},
}


def _versions(history: History) -> list[str]:
    """The versions tenants were switched to, the most common first."""
    versions = Counter(tenant.version for tenant in history.tenants)
    del versions[None]
    return [version for version, _ in versions.most_common()]


def _blocked_version(history: History) -> str:
    """The version of a blocked tenant."""
    return next(t.version for t in history.tenants if t.blocked_by and t.version)


TENANT_CASES: dict[str, Filters] = {
    "everything": lambda h: {},
    "version": lambda h: {"version": _versions(h)[0]},
    "rare version": lambda h: {"version": _versions(h)[-1]},
    "service type": lambda h: {"service_type": "edge"},
    "latest task's status": lambda h: {"status": "PAUSED"},
    "blocked": lambda h: {"blocked": True},
    "service type and status": lambda h: {"service_type": "api", "status": "FAILED"},
    "version, blocked": lambda h: {"version": _blocked_version(h), "blocked": True},
}


@pytest.fixture(scope="module")
def history(database_url: str) -> Iterator[tuple[Engine, History]]:
    """The generated history in a freshly migrated schema's read tables, analysed."""
    schemas = fresh_schema(database_url)
    schema = next(schemas)
    migrate(database_url, schema)
    engine = schema_engine(database_url, schema)
    made = generate()
    write(engine, made)
    yield engine, made
    engine.dispose()
    next(schemas, None)


@pytest.fixture()
def conn(history: tuple[Engine, History]) -> Iterator[Connection]:
    """A connection to the generated tables."""
    with history[0].connect() as connection:
        yield connection


def paged(
    fetch: Callable[[Key | None], list[Row]], key: Callable[[Row], Key], size: int
) -> list[Row]:
    """Every row `fetch` gives, `size` at a time, each page after the last row's key."""
    found: list[Row] = []
    while True:
        page = fetch(key(found[-1]) if found else None)
        assert len(page) <= size
        found += page
        if len(page) < size:
            return found


def _size(expected: list[Any]) -> int:
    """A page size that takes about 15 pages, 5 rows at least."""
    return max(5, len(expected) // 15)


def test_the_history_is_large_enough(history: tuple[Engine, History]) -> None:
    _, made = history
    assert len(made.audit) >= 100_000
    assert len({row.sequence for row in made.audit}) == len(made.audit)


@pytest.mark.parametrize("oldest_first", [False, True], ids=["newest first", "oldest first"])
@pytest.mark.parametrize("case", AUDIT_CASES)
def test_audit_pages_return_exactly_the_matching_events(
    history: tuple[Engine, History], conn: Connection, case: str, oldest_first: bool
) -> None:
    filters = AUDIT_CASES[case](history[1])
    expected = sorted(
        (
            row
            for row in history[1].audit
            if all(AUDIT_FIELDS[f](row, v) for f, v in filters.items())
        ),
        key=lambda row: row.sequence,
        reverse=not oldest_first,
    )
    assert expected
    found = paged(
        lambda after: audit(
            conn, limit=_size(expected), after=after, oldest_first=oldest_first, **filters
        ),
        lambda row: row.sequence,
        _size(expected),
    )
    assert found == expected


def test_an_unknown_type_has_no_events(conn: Connection) -> None:
    assert audit(conn, type="Plan.StageStarted") == []
    assert audit(conn, type="Task.Created.Again") == []


def _plans(history: History, filters: dict[str, Any]) -> list[PlanRow]:
    """The plans `list_plans` gives for the filters, said in Python, newest first."""
    listed = [
        plan
        for plan in history.plans
        if plan.created_at is not None
        and filters.get("status", plan.status) == plan.status
        and filters.get("actor", plan.created_by) == plan.created_by
        and plan.created_at >= filters.get("since", plan.created_at)
    ]
    return sorted(listed, key=lambda plan: (plan.created_at, plan.plan_id), reverse=True)


@pytest.mark.parametrize("case", PLAN_CASES)
def test_plans_pages_return_exactly_the_matching_plans(
    history: tuple[Engine, History], conn: Connection, case: str
) -> None:
    filters = PLAN_CASES[case](history[1])
    expected = _plans(history[1], filters)
    assert expected
    found = paged(
        lambda after: list_plans(conn, limit=_size(expected), after=after, **filters),
        lambda plan: PlanCursor(plan.created_at, plan.plan_id),  # type: ignore[arg-type]
        _size(expected),
    )
    assert found == expected


@pytest.mark.parametrize("case", TASK_CASES)
def test_a_plans_task_pages_return_exactly_its_tasks(
    history: tuple[Engine, History], conn: Connection, case: str
) -> None:
    filters = TASK_CASES[case](history[1])
    expected = sorted(
        (t for t in history[1].tasks if all(getattr(t, f) == v for f, v in filters.items())),
        key=lambda task: task.position,
    )
    assert expected
    plan_id, status = filters["plan_id"], filters.get("status")
    found = paged(
        lambda after: plan_tasks(conn, plan_id, status=status, limit=_size(expected), after=after),
        lambda task: task.position,
        _size(expected),
    )
    assert found == expected


def _tenants(history: History, filters: dict[str, Any]) -> list[TenantRow]:
    """The tenants `list_tenants` gives for the filters, said in Python, by id."""
    wanted = {"version": "version", "service_type": "service_type", "status": "latest_task_status"}
    listed = [
        tenant
        for tenant in history.tenants
        if tenant.latest_task is not None
        and all(getattr(tenant, wanted[f]) == v for f, v in filters.items() if f in wanted)
        and (tenant.blocked_by is not None or not filters.get("blocked"))
    ]
    return sorted(listed, key=lambda tenant: tenant.tenant_id)


@pytest.mark.parametrize("case", TENANT_CASES)
def test_tenant_pages_return_exactly_the_matching_tenants(
    history: tuple[Engine, History], conn: Connection, case: str
) -> None:
    filters = TENANT_CASES[case](history[1])
    expected = _tenants(history[1], filters)
    assert expected
    found = paged(
        lambda after: list_tenants(conn, limit=_size(expected), after=after, **filters),
        lambda tenant: tenant.tenant_id,
        _size(expected),
    )
    assert found == expected


def test_a_plan_and_a_task_are_read_by_id(
    history: tuple[Engine, History], conn: Connection
) -> None:
    _, made = history
    for plan in made.plans[::150]:
        assert get_plan(conn, plan.plan_id) == plan
    for task in made.tasks[::1500]:
        assert get_task(conn, task.task_id) == task
    assert get_plan(conn, "no such plan") is None
    assert get_task(conn, "no such task") is None


def _statements(history: History) -> Iterator[tuple[str, Select[Any]]]:
    """Every query case's statement, for its first page and for a page from the middle."""
    for case, filters in AUDIT_CASES.items():
        for oldest_first in (False, True):
            for after in (None, history.audit[len(history.audit) // 2].sequence):
                chosen = filters(history)
                statement = audit_query(**chosen, oldest_first=oldest_first, after=after)
                yield f"audit {case} oldest_first={oldest_first} after={after}", statement
    middle = history.plans[len(history.plans) // 2]
    for case, filters in PLAN_CASES.items():
        for cursor in (None, PlanCursor(middle.created_at, middle.plan_id)):  # type: ignore[arg-type]
            yield (
                f"list_plans {case} after={cursor}",
                list_plans_query(**filters(history), after=cursor),
            )
    for case, filters in TASK_CASES.items():
        for position in (None, 2000):
            yield (
                f"plan_tasks {case} after={position}",
                plan_tasks_query(**filters(history), after=position),
            )
    for case, filters in TENANT_CASES.items():
        for tenant in (None, "tenant-06000"):
            yield (
                f"list_tenants {case} after={tenant}",
                list_tenants_query(**filters(history), after=tenant),
            )
    yield "get_plan", get_plan_query(middle.plan_id)
    yield "get_task", get_task_query().params(task_id=history.tasks[0].task_id)
    limited = get_task_params(history.tasks[0].task_id, {"tenant-00001", "tenant-06000"})
    yield "get_task limited", get_task_query(limited=True).params(**limited)


INDEX_SCAN = re.compile(
    r"(?:Index Scan|Index Only Scan)(?: Backward)? using switchyard_read_\w+"
    r"|Bitmap Index Scan on switchyard_read_\w+"
)
SEQ_SCAN = re.compile(r"Seq Scan on (\w+)")
WHOLE_TENANTS_TABLE = re.compile(r"list_tenants .*blocked")
"""The one query allowed to read a whole table: the blocked tenants, when as many tasks
wait as here, are found faster by hashing every tenant (one row per tenant, never more)
than by looking each waiting task's tenant up; it still takes the waiting tasks from
their index, never every task."""


def plan_of(conn: Connection, statement: Select[Any]) -> str:
    """PostgreSQL's plan for the statement, with its bound values."""
    compiled = statement.compile(dialect=conn.dialect)
    lines = conn.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params).scalars().all()
    return "\n".join(lines)


def _unindexed(name: str, plan: str) -> bool:
    """Whether the plan reads a table without an index (beyond what is allowed)."""
    allowed = {"switchyard_read_tenants"} if WHOLE_TENANTS_TABLE.match(name) else set()
    return not INDEX_SCAN.search(plan) or bool(set(SEQ_SCAN.findall(plan)) - allowed)


def test_every_querys_plan_uses_an_index(history: tuple[Engine, History], conn: Connection) -> None:
    plans = {name: plan_of(conn, statement) for name, statement in _statements(history[1])}
    unindexed = {name: plan for name, plan in plans.items() if _unindexed(name, plan)}
    assert not unindexed, "\n\n".join(f"{name}:\n{plan}" for name, plan in unindexed.items())
    blocked = [plan for name, plan in plans.items() if WHOLE_TENANTS_TABLE.match(name)]
    assert all("switchyard_read_tasks_waiting" in plan for plan in blocked)


@pytest.mark.parametrize("type", ["Plan.Created", "TenantTasks.Registered"])
def test_one_aggregates_event_type_is_read_from_its_own_index(
    history: tuple[Engine, History], conn: Connection, type: str
) -> None:
    """Not from the index by event type, which holds every aggregate's events of the type."""
    for oldest_first in (False, True):
        plan = plan_of(conn, audit_query(type=type, oldest_first=oldest_first))
        assert "switchyard_read_audit_kind" in plan, plan
