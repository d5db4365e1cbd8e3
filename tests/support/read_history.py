"""A generated read-side history, large enough for the query planner to care: tenants,
plans (one of them big) with their tasks, and every event's audit row, written by COPY.

The rows come back too, as the dataclasses the queries return, so a test computes each
query's answer in Python. Event times wobble around the log's order (as concurrent
writers' clocks do), so a time filter is not a sequence range; one plan in ten shares
its creation time with the one before, so plans' pages must break ties by id.
"""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Table, text

from switchyard.projections.fleet import TaskRow, TenantRow
from switchyard.projections.queries import AuditRow, PlanRow
from switchyard.projections.tables import audit, plans, tasks, tenants

START = datetime(2026, 3, 1, tzinfo=UTC)
ACTORS = ("cli:alice", "cli:bob", "cli:carol", "cli:dave", "api:deploybot")
SERVICE_TYPES = ("web", "api", "worker", "edge")
STATUSES = {
    "COMPLETED": 60,
    "FAILED": 8,
    "QUEUED": 12,
    "RUNNING": 5,
    "PAUSED": 4,
    "CANCELLED": 6,
    "ROLLED_BACK": 5,
}
UNFINISHED = {"QUEUED", "RUNNING", "PAUSED"}
STAGES = ("write-config", "reload", "health")
ENDINGS = {
    "COMPLETED": ("Completed",),
    "FAILED": ("StageStarted", "StageFailed", "Failed"),
    "QUEUED": (),
    "RUNNING": ("StageStarted",),
    "PAUSED": ("PauseRequested", "Paused"),
    "CANCELLED": ("CancelRequested", "Cancelled"),
    "ROLLED_BACK": ("Completed", "RollingBack", "StageRolledBack", "RolledBack"),
}
"""The events that bring a task from its last completed stage to its status."""
STEERED = {"PauseRequested", "CancelRequested", "RollingBack"}


@dataclass
class History:
    """What was written: every row of the four queried tables."""

    plans: list[PlanRow] = field(default_factory=list)
    tasks: list[TaskRow] = field(default_factory=list)
    tenants: list[TenantRow] = field(default_factory=list)
    audit: list[AuditRow] = field(default_factory=list)


class _Generator:
    """Plans one after another, each followed by its tasks' events."""

    def __init__(self, seed: int, tenants: int) -> None:
        self.rng = random.Random(seed)
        self.history = History()
        self.clock = START
        self.versions: Counter[str] = Counter()
        self.service_types = {
            f"tenant-{i:05}": self.rng.choice(SERVICE_TYPES) for i in range(tenants)
        }
        self.registry = {tenant: self.id() for tenant in self.service_types}
        self.registered: set[str] = set()
        self.latest: dict[str, TaskRow] = {}
        self.switched: dict[str, TaskRow] = {}

    def id(self) -> str:
        """A random UUID, as text."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def event(self, kind: str, aggregate_id: str, name: str, **row: Any) -> None:
        """An audit row for `name` on the aggregate; `row` holds tenant_id, plan_id, actor."""
        self.clock += timedelta(milliseconds=self.rng.randint(1, 400))
        self.versions[aggregate_id] += 1
        sequence = len(self.history.audit) + 1
        self.history.audit.append(
            AuditRow(
                sequence=sequence,
                time=self.clock + timedelta(milliseconds=self.rng.randint(-900, 900)),
                actor=row.get("actor"),
                aggregate_type=kind,
                aggregate_id=aggregate_id,
                version=self.versions[aggregate_id],
                event_type=name,
                tenant_id=row.get("tenant_id"),
                plan_id=row.get("plan_id"),
                traceparent=f"00-{sequence:032x}-{sequence:016x}-01",
                payload={"sequence": sequence},
            )
        )

    def plan(self, number: int, tenant_ids: list[str]) -> None:
        """Record a plan for the tenants, its tasks, and how far each got."""
        plan_id, actor, version = self.id(), self.rng.choice(ACTORS), f"2.{number // 200}.0"
        previous = self.history.plans[-1].created_at if self.history.plans else None
        created_at = previous if previous and self.rng.random() < 0.1 else self.clock
        self.event("Plan", plan_id, "Created", plan_id=plan_id, actor=actor)
        if self.rng.random() < 0.05:
            steering = self.rng.choice(ACTORS)
            self.event("Plan", plan_id, "PauseRequested", plan_id=plan_id, actor=steering)
        rows = [
            self.task(plan_id, tenant, i, version, actor) for i, tenant in enumerate(tenant_ids)
        ]
        for row in rows:
            self.progress(row)
        self.history.tasks += rows
        unknown = self.rng.random() < 0.01
        self.history.plans.append(_plan_row(plan_id, version, actor, rows, created_at, unknown))

    def task(self, plan_id: str, tenant: str, position: int, version: str, actor: str) -> TaskRow:
        """A task of the plan for the tenant, and its creation's events."""
        if tenant not in self.registered:
            self.registered.add(tenant)
            self.event("TenantTasks", self.registry[tenant], "Registered", tenant_id=tenant)
        status = self.rng.choices(list(STATUSES), list(STATUSES.values()))[0]
        done = len(STAGES) if status in {"COMPLETED", "ROLLED_BACK"} else self.rng.randint(0, 2)
        older = self.latest.get(tenant)
        waits = status == "QUEUED" and older is not None and older.status in UNFINISHED
        row = TaskRow(
            task_id=self.id(),
            plan_id=plan_id,
            tenant_id=tenant,
            position=position,
            service_type=self.service_types[tenant],
            target_version=version,
            status=status,
            current_stage=None if done == len(STAGES) else STAGES[done],
            completed_stages=done,
            total_stages=len(STAGES),
            pause_requested=status == "PAUSED",
            cancel_requested=status == "CANCELLED",
            attempt=1,
            failed_stage=STAGES[done] if status == "FAILED" else None,
            failure_message="unhealthy" if status == "FAILED" else None,
            has_checkpoint=done > 0,
            owner="scheduler-1" if status == "RUNNING" else None,
            fence=position + 1 if status != "QUEUED" else None,
            created_at=self.clock,
            started_at=None if status == "QUEUED" else self.clock,
            finished_at=None if status in UNFINISHED else self.clock,
            waiting_for=older.task_id if waits and older is not None else None,
        )
        self.latest[tenant] = row
        if status == "COMPLETED":
            self.switched[tenant] = row
        where = {"tenant_id": tenant, "plan_id": plan_id}
        self.event("Task", row.task_id, "Created", actor=actor, **where)
        self.event("Task", row.task_id, "Queued", actor=actor, **where)
        self.event("TenantTasks", self.registry[tenant], "TaskAssigned", actor=actor, **where)
        return row

    def progress(self, row: TaskRow) -> None:
        """The events that brought the task to its status."""
        where = {"tenant_id": row.tenant_id, "plan_id": row.plan_id}
        names = ["StageStarted", "StageCompleted"] * row.completed_stages
        names = (["Started"] if row.status != "QUEUED" else []) + names
        for name in names + list(ENDINGS[row.status]):
            actor = self.rng.choice(ACTORS) if name in STEERED else None
            self.event("Task", row.task_id, name, actor=actor, **where)

    def tenant_rows(self) -> list[TenantRow]:
        """Every registered tenant's row, and a few never given a task."""
        rows = []
        for tenant, service_type in self.service_types.items():
            latest, switched = self.latest.get(tenant), self.switched.get(tenant)
            rows.append(
                TenantRow(
                    tenant_id=tenant,
                    service_type=service_type,
                    version=None if switched is None else switched.target_version,
                    switched_by_task=None if switched is None else switched.task_id,
                    latest_task=None if latest is None else latest.task_id,
                    latest_task_status=None if latest is None else latest.status,
                    blocked_by=None if latest is None else latest.waiting_for,
                )
            )
        return rows


def _plan_row(
    plan_id: str,
    version: str,
    actor: str,
    rows: list[TaskRow],
    created_at: datetime | None,
    unknown: bool,
) -> PlanRow:
    """The plan's roll-up of its tasks (`unknown`: its Created event not applied yet)."""
    counts = Counter(row.status for row in rows)
    status = next((s for s in ("RUNNING", "PAUSED", "QUEUED", "FAILED") if counts[s]), "COMPLETED")
    return PlanRow(
        plan_id=plan_id,
        name=None if unknown else f"rollout {version}",
        status=status,
        task_counts=dict(counts),
        tasks_total=len(rows),
        stages_done=sum(row.completed_stages for row in rows),
        stages_total=sum(row.total_stages for row in rows),
        max_concurrency=None if unknown else 10,
        created_by=None if unknown else actor,
        created_at=None if unknown else created_at,
        finished_at=None,
    )


def generate(seed: int = 11, plans: int = 4000, tenants: int = 12_000, big: int = 4000) -> History:
    """Plans of 1 to 4 random tenants, and in the middle one of `big` tenants; 20 more
    tenants are registered but never given a task."""
    made = _Generator(seed, tenants + 20)
    everyone = list(made.service_types)[:tenants]
    for number in range(plans):
        size = big if number == plans // 2 else made.rng.randint(1, 4)
        made.plan(number, made.rng.sample(everyone, size))
    made.history.tenants = made.tenant_rows()
    return made.history


def write(engine: Engine, history: History) -> None:
    """COPY the history into the engine's (empty) read tables, then ANALYZE them."""
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cursor:
            for table, rows in (
                (plans, history.plans),
                (tasks, history.tasks),
                (tenants, history.tenants),
                (audit, history.audit),
            ):
                _copy(cursor, table, (vars(row) for row in rows))
        conn.commit()
        for table in (plans, tasks, tenants, audit):
            conn.execute(text(f"ANALYZE {table.name}"))
        conn.commit()


def _copy(cursor: Any, table: Table, rows: Iterable[dict[str, Any]]) -> None:
    """COPY the rows (the table's columns by name, JSON ones as dicts; other keys are not
    columns) into the table."""
    names = [column.name for column in table.columns]
    with cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(
                [json.dumps(row[n]) if isinstance(row[n], dict) else row[n] for n in names]
            )
