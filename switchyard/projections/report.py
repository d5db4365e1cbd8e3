"""A plan's report, read from the read tables: per tenant, what happened and on what evidence.

Per tenant: the result, when it ran and for how long, each run of each stage
(`switchyard_read_stage_runs`: timings, the task's attempt, the outcome),
the failures, who steered it (the audit rows of operators' commands, with
their actor and reason), the version before and after, and what the
instances reported at the last health check (the `reports` a health-check
step records, read from the audit rows' payloads). A summary compares what
was asked (the target versions) with what was observed (the instances'
reported versions).

"Version before" is the target version of the tenant's latest task that
completed before this task first started (none if there is none); "version
after" is this task's target version if it completed, else the version
before. Each table is read once, so the cost grows with the plan's size.
A reader limited to some tenants (`tenants`) gets the plan only if one of its
tasks is theirs, and only their tenants' rows: the statements leave out the rest.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, select

from switchyard.domain.healthcheck import InstanceReport, recorded_reports
from switchyard.projections.queries import get_plan
from switchyard.projections.tables import audit, stage_runs, tasks

TASK_STEERING = frozenset(
    {"PauseRequested", "Resumed", "CancelRequested", "RetryStarted", "RollingBack", "Superseded"}
)
"""A task's events that record an operator's (or a newer plan's) command."""

PLAN_STEERING = frozenset(
    {"PauseRequested", "ResumeRequested", "CancelRequested", "RetryRequested", "RollbackRequested"}
)
"""A plan's events that record an operator's command on the whole plan."""

_EVIDENCE = frozenset({"StageCompleted", "StageFailed"})
_READ = TASK_STEERING | PLAN_STEERING | _EVIDENCE | {"RollbackFailed"}

NO_VERSION = "(none)"
"""How the comparison counts an instance that reported no version."""


@dataclass(frozen=True)
class _Event:
    """An audit row the report reads: which aggregate, which event, when, who, its fields."""

    aggregate_type: str
    aggregate_id: str
    event_type: str
    time: datetime
    actor: str | None
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class StageRunReport:
    """One run of a stage: when, under which fence and attempt, and how it ended."""

    stage_index: int
    stage_name: str
    attempt: int
    fence: int
    started_at: datetime
    ended_at: datetime | None
    outcome: str | None
    failure_type: str | None
    failure_message: str | None

    @property
    def seconds(self) -> float | None:
        """How long it ran, if it has ended."""
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class Steering:
    """An operator's command that steered a task or the plan: who, when, what, why."""

    time: datetime
    actor: str | None
    action: str
    reason: str | None


@dataclass(frozen=True)
class TenantReport:
    """One tenant's task in the plan: its result, runs, failures, steering and evidence."""

    tenant_id: str
    task_id: str
    position: int
    service_type: str
    target_version: str
    result: str
    version_before: str | None
    version_after: str | None
    started_at: datetime | None
    finished_at: datetime | None
    attempts: int
    stage_runs: tuple[StageRunReport, ...]
    failures: tuple[str, ...]
    steering: tuple[Steering, ...]
    evidence: tuple[InstanceReport, ...]

    @property
    def seconds(self) -> float | None:
        """From its first start to its end, if it has both."""
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def retries(self) -> int:
        """How many times it was retried (its attempts less the first)."""
        return self.attempts - 1


@dataclass(frozen=True)
class VersionComparison:
    """One target version: the tenants asked for it, their results, what instances reported."""

    version: str
    tenants: int
    results: Mapping[str, int]
    observed: Mapping[str, int]
    without_evidence: int

    @property
    def instances(self) -> int:
        """How many instances' reports there are."""
        return sum(self.observed.values())

    @property
    def matched(self) -> int:
        """How many instances reported the asked version."""
        return self.observed.get(self.version, 0)


@dataclass(frozen=True)
class PlanReport:
    """A plan's report: the plan, each tenant in FIFO order, asked versus observed."""

    plan_id: str
    name: str | None
    status: str
    max_concurrency: int | None
    created_by: str | None
    created_at: datetime | None
    finished_at: datetime | None
    task_counts: Mapping[str, int]
    tenants: tuple[TenantReport, ...]
    comparison: tuple[VersionComparison, ...]
    steering: tuple[Steering, ...]


def plan_report(
    conn: Connection, plan_id: str, tenants: Collection[str] | None = None
) -> PlanReport | None:
    """The plan's report from the read tables, or None if they do not know the plan (or it
    has no task for one of `tenants`, if given)."""
    plan = get_plan(conn, plan_id, tenants)
    if plan is None or plan.created_at is None:
        return None
    query = select(tasks).where(tasks.c.plan_id == plan_id).order_by(tasks.c.position)
    if tenants is not None:
        query = query.where(tasks.c.tenant_id.in_(tenants))
    rows = conn.execute(query).all()
    runs = _runs(conn, plan_id)
    events = _events(conn, plan_id)
    history = _completed_versions(conn, plan_id)
    reports = tuple(
        _tenant(row, runs.get(row.task_id, []), events.get(row.task_id, []), history)
        for row in rows
    )
    return PlanReport(
        plan_id=plan.plan_id,
        name=plan.name,
        status=plan.status,
        max_concurrency=plan.max_concurrency,
        created_by=plan.created_by,
        created_at=plan.created_at,
        finished_at=plan.finished_at,
        task_counts=dict(plan.task_counts),
        tenants=reports,
        comparison=compare(reports),
        steering=tuple(_steering(e) for e in events.get(plan_id, []) if _steers(e)),
    )


def compare(tenants: Iterable[TenantReport]) -> tuple[VersionComparison, ...]:
    """Per target version asked, the tenants' results and the versions their instances reported."""
    asked: dict[str, list[TenantReport]] = defaultdict(list)
    for tenant in tenants:
        asked[tenant.target_version].append(tenant)
    return tuple(
        VersionComparison(
            version=version,
            tenants=len(group),
            results=dict(sorted(Counter(t.result for t in group).items())),
            observed=dict(
                Counter(r.version or NO_VERSION for t in group for r in t.evidence).most_common()
            ),
            without_evidence=sum(1 for t in group if not t.evidence),
        )
        for version, group in sorted(asked.items())
    )


def _runs(conn: Connection, plan_id: str) -> dict[str, list[StageRunReport]]:
    """The plan's stage runs by task, in the order they started."""
    query = (
        select(stage_runs)
        .join(tasks, tasks.c.task_id == stage_runs.c.task_id)
        .where(tasks.c.plan_id == plan_id)
        .order_by(stage_runs.c.task_id, stage_runs.c.started_at, stage_runs.c.stage_index)
    )
    found: dict[str, list[StageRunReport]] = defaultdict(list)
    for row in conn.execute(query):
        values = row._asdict()
        found[values.pop("task_id")].append(StageRunReport(**values))
    return found


def _events(conn: Connection, plan_id: str) -> dict[str, list[_Event]]:
    """The plan's audit rows the report reads, by aggregate, oldest first."""
    c = audit.c
    query = (
        select(c.aggregate_type, c.aggregate_id, c.event_type, c.time, c.actor, c.payload)
        .where((c.plan_id == plan_id) & c.event_type.in_(sorted(_READ)))
        .order_by(c.sequence)
    )
    found: dict[str, list[_Event]] = defaultdict(list)
    for row in conn.execute(query):
        found[row.aggregate_id].append(_Event(**row._asdict()))
    return found


def _completed_versions(conn: Connection, plan_id: str) -> dict[str, list[tuple[datetime, str]]]:
    """For each of the plan's tenants, (end, target version) of its completed tasks, in order."""
    mine = select(tasks.c.tenant_id).where(tasks.c.plan_id == plan_id)
    query = (
        select(tasks.c.tenant_id, tasks.c.finished_at, tasks.c.target_version)
        .where(tasks.c.tenant_id.in_(mine) & (tasks.c.status == "COMPLETED"))
        .where(tasks.c.finished_at.is_not(None))
        .order_by(tasks.c.tenant_id, tasks.c.finished_at)
    )
    found: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for row in conn.execute(query):
        found[row.tenant_id].append((row.finished_at, row.target_version))
    return found


def _tenant(
    row: Row[Any],
    runs: list[StageRunReport],
    events: list[_Event],
    history: Mapping[str, list[tuple[datetime, str]]],
) -> TenantReport:
    started = min((run.started_at for run in runs), default=row.started_at)
    before = _version_before(history.get(row.tenant_id, []), started or row.finished_at)
    failures = [f"{r.stage_name}: {r.failure_message}" for r in runs if r.outcome == "FAILED"]
    failures += [
        f"rollback of {e.payload['stage_name']}: {e.payload['failure']['message']}"
        for e in events
        if e.event_type == "RollbackFailed"
    ]
    return TenantReport(
        tenant_id=row.tenant_id,
        task_id=row.task_id,
        position=row.position,
        service_type=row.service_type,
        target_version=row.target_version,
        result=row.status,
        version_before=before,
        version_after=row.target_version if row.status == "COMPLETED" else before,
        started_at=started,
        finished_at=row.finished_at,
        attempts=row.attempt,
        stage_runs=tuple(runs),
        failures=tuple(failures),
        steering=tuple(_steering(e) for e in events if _steers(e)),
        evidence=tuple(_evidence(events)),
    )


def _version_before(completed: list[tuple[datetime, str]], started: datetime | None) -> str | None:
    """The target version of the latest task that completed before `started` (any, if None)."""
    if started is None:
        return completed[-1][1] if completed else None
    index = bisect.bisect_left(completed, started, key=lambda done: done[0])
    return completed[index - 1][1] if index else None


def _steers(event: _Event) -> bool:
    steering = TASK_STEERING if event.aggregate_type == "Task" else PLAN_STEERING
    return event.event_type in steering


def _steering(event: _Event) -> Steering:
    action = event.event_type
    if action == "RetryStarted":
        action += (
            " (from checkpoint)" if event.payload.get("from_checkpoint") else " (from scratch)"
        )
    actor = event.actor or event.payload.get("actor")
    return Steering(event.time, actor, action, event.payload.get("reason"))


def _evidence(events: list[_Event]) -> list[InstanceReport]:
    """What the task's latest health check that recorded reports found, per instance."""
    for event in reversed(events):
        if event.event_type == "StageCompleted":
            steps = event.payload["outcome"].get("result", {}).get("steps", [])
            reports = [report for step in steps for report in recorded_reports(step)]
        elif event.event_type == "StageFailed":
            reports = recorded_reports(event.payload["failure"].get("details") or {})
        else:
            continue
        if reports:
            return reports
    return []
