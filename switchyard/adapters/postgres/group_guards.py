"""A group's write guards, checked in the transaction of its write (see `event_store`).

Each save of a group is checked on its own, and one whose guard fails is refused
with its own error while the others go on. Locks are taken in the order every
writer keeps: the claims' advisory lock first (only a retry or rollback takes
it), then the queue rows of the fenced tasks and of every task the group
writes, in task-id order, in one statement; the events table lock comes later.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from psycopg import Cursor
from psycopg.rows import DictRow

from switchyard.adapters.postgres import scheduler_tables
from switchyard.adapters.postgres.group_commit import PendingSave
from switchyard.application.scheduling import TaskRow
from switchyard.domain.errors import StaleFence, TaskSuperseded


class GroupGuards:
    """Checks the fences and supersession guards of a group's saves."""

    def __init__(self, schema: str) -> None:
        self._lock_fences = scheduler_tables.prepared(scheduler_tables.LOCK_FENCES, schema)
        self._select_superseding = scheduler_tables.prepared(
            scheduler_tables.SELECT_SUPERSEDING, schema
        )

    def admit(self, curs: Cursor[DictRow], group: list[PendingSave]) -> list[PendingSave]:
        """The saves whose guards hold; the others are refused with their own error."""
        restarting = [p for p in group if p.guards.not_superseded]
        if restarting:
            curs.execute("SELECT pg_advisory_xact_lock(%s)", (scheduler_tables.CLAIM_LOCK,))
            for pending in restarting:
                superseded = self._superseded(curs, pending.guards.not_superseded)
                if superseded is not None:
                    pending.refuse(superseded)
        fenced = [p for p in group if p.guards.fence is not None and not p.decided]
        if fenced:
            fences = self._lock_tasks(curs, [p for p in group if not p.decided])
            for pending in fenced:
                claim = pending.guards.fence
                assert claim is not None  # fenced saves only
                current = fences.get(claim.task_id)
                if current != claim.fence:
                    task_id = str(claim.task_id)
                    pending.refuse(
                        StaleFence(task_id=task_id, fence=claim.fence, current_fence=current)
                    )
        return [p for p in group if not p.decided]

    def _superseded(self, curs: Cursor[DictRow], task_ids: Sequence[UUID]) -> TaskSuperseded | None:
        curs.execute(self._select_superseding, (list(task_ids),))
        row = curs.fetchone()
        if row is None:
            return None
        return TaskSuperseded(
            task_id=str(row["task_id"]),
            newer_task_id=str(row["newer_task_id"]),
            newer_plan_id=str(row["newer_plan_id"]),
        )

    def _lock_tasks(self, curs: Cursor[DictRow], group: list[PendingSave]) -> dict[UUID, int]:
        # A claim by another worker either committed (and we see its higher fence) or
        # waits until this group has committed.
        task_ids = {p.guards.fence.task_id for p in group if p.guards.fence is not None}
        task_ids |= {r.task_id for p in group for r in p.scheduling if isinstance(r, TaskRow)}
        curs.execute(self._lock_fences, (sorted(task_ids),))
        return {row["task_id"]: row["fence"] for row in curs.fetchall()}
