"""One batch's row changes, folded in memory and written in a few statements.

The projector applies batches of up to a thousand events. Written one statement
per change, each event costs several round trips and as many statements built
and compiled, so `RowChanges` instead loads the rows the batch's events touch
(their tasks, those tasks' stage runs, and for a stage's undo the time of the
task's last event applied before), folds the events over them in order with the
handlers (`projections.handlers`), and writes what changed: the audit rows by
COPY, then the plans, tenants, created and changed tasks and stage runs in one
executemany each (`projections.bulk`). The result is the rows the events, applied
one at a time, would have left.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from switchyard.projections.bulk import (
    Row,
    among,
    copy_rows,
    insert_rows,
    update_rows,
)
from switchyard.projections.events import ProjectedEvent
from switchyard.projections.handlers import (
    STAGE_EVENTS,
    TASK_VALUES,
    UNDO_EVENTS,
    audit_row,
    ends_run,
    plan_created,
    stage_started,
    stage_undone,
    task_created,
)
from switchyard.projections.rollups import STUB_PLAN
from switchyard.projections.tables import audit, plans, stage_runs, tasks, tenants

RunKey = tuple[int, int]
"""A stage run of a task: (fence, stage index)."""


class RowChanges:
    """The rows a batch of events changes, loaded once, changed in memory, written once."""

    def __init__(self, conn: Connection, events: Sequence[ProjectedEvent]) -> None:
        """Load what `events` (the batch's events to apply, in log order) read."""
        self._conn = conn
        task_events = [e for e in events if e.aggregate_type == "Task"]
        self.tasks: dict[str, Row] = {
            row["task_id"]: row
            for row in _rows(conn, tasks, tasks.c.task_id, {e.aggregate_id for e in task_events})
        }
        self._created: set[str] = set()
        self._changed: set[str] = set()
        self._runs: dict[str, dict[RunKey, Row]] = {}
        staged = [e for e in task_events if e.name in STAGE_EVENTS]
        for run in _rows(conn, stage_runs, stage_runs.c.task_id, {e.aggregate_id for e in staged}):
            self._runs.setdefault(run["task_id"], {})[(run["fence"], run["stage_index"])] = run
        self._new_runs: dict[tuple[str, int, int], Row] = {}
        self._ended_runs: dict[tuple[str, int, int], Row] = {}
        self._undone = {e.aggregate_id for e in staged if e.name in UNDO_EVENTS}
        self._last_time = _last_times(conn, self._undone)
        self._audit: list[Row] = []
        self._plans: list[Row] = []
        self._tenants: set[str] = set()

    def add(self, event: ProjectedEvent) -> None:
        """Fold one event (the next of its aggregate) into the rows."""
        self._audit.append(audit_row(event))
        if event.aggregate_type == "Task":
            self._task(event)
        elif event.aggregate_type == "Plan" and event.name == "Created":
            self._plans.append(plan_created(event))
        elif event.aggregate_type == "TenantTasks" and event.name == "Registered":
            self._tenants.add(event.payload["tenant_id"])
        if event.aggregate_id in self._undone:  # the start of its undo's run
            self._last_time[event.aggregate_id] = max(
                event.time, self._last_time.get(event.aggregate_id, event.time)
            )

    def write_audit(self) -> None:
        """Append the audit rows (by COPY: new, as each event is applied once)."""
        copy_rows(self._conn, audit, self._audit)

    def write(self) -> None:
        """Write every other change: plans, tenants, tasks, then stage runs (nothing read:
        they may be pipelined)."""
        conn = self._conn
        insert_rows(
            conn,
            plans,
            [{**STUB_PLAN, **row} for row in self._plans],
            update_on="plan_id",
            updated=CREATED_PLAN,
        )
        insert_rows(
            conn, tenants, [{"tenant_id": t} for t in sorted(self._tenants)], skip_existing=True
        )
        insert_rows(conn, tasks, [self.tasks[t] for t in sorted(self._created)])
        update_rows(conn, tasks, ("task_id",), [self.tasks[t] for t in sorted(self._changed)])
        insert_rows(conn, stage_runs, list(self._new_runs.values()), skip_existing=True)
        update_rows(conn, stage_runs, RUN_KEY, list(self._ended_runs.values()))

    def _task(self, e: ProjectedEvent) -> None:
        if e.name == "Created":
            self.tasks[e.aggregate_id] = task_created(e)
            self._created.add(e.aggregate_id)
            return
        row = self.tasks.get(e.aggregate_id)
        if row is None:  # its Created is not in the read tables: nothing to change
            return
        if e.name in STAGE_EVENTS:
            self._stage(e, row)
        row.update(TASK_VALUES[e.name](e, row))
        if e.aggregate_id not in self._created:
            self._changed.add(e.aggregate_id)

    def _stage(self, e: ProjectedEvent, task: Row) -> None:
        runs = self._runs.setdefault(e.aggregate_id, {})
        if e.name == "StageStarted" or e.name in UNDO_EVENTS:
            opened = (
                stage_started(e, task["attempt"])
                if e.name == "StageStarted"
                else stage_undone(e, task["attempt"], self._last_time.get(e.aggregate_id))
            )
            key = (opened["fence"], opened["stage_index"])
            if key not in runs:  # a run under this fence exists already: it stays as it is
                runs[key] = opened
                self._new_runs[(e.aggregate_id, *key)] = opened
            return
        for key, run in runs.items():
            ended = ends_run(e, run)
            if ended is not None:
                run.update(ended)
                run_key = (e.aggregate_id, *key)
                if run_key not in self._new_runs:
                    self._ended_runs[run_key] = run


RUN_KEY = ("task_id", "fence", "stage_index")
"""A stage run's primary key."""

CREATED_PLAN = ("name", "max_concurrency", "created_by", "created_at")
"""What a plan's `Created` sets on a row a roll-up made first (the roll-up's columns stay)."""


def _rows(conn: Connection, table: Any, key: Any, ids: set[str]) -> list[Row]:
    if not ids:
        return []
    return [dict(r._mapping) for r in conn.execute(select(table).where(among(key, ids)))]


def _last_times(conn: Connection, ids: set[str]) -> dict[str, datetime]:
    """The time of each aggregate's latest event in the audit rows (applied before)."""
    if not ids:
        return {}
    found = conn.execute(
        select(audit.c.aggregate_id, func.max(audit.c.time))
        .where(among(audit.c.aggregate_id, ids))
        .group_by(audit.c.aggregate_id)
    ).all()
    return {aggregate_id: time for aggregate_id, time in found}
