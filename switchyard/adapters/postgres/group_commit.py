"""Group commit: concurrent saves of one process written together, one transaction each group.

Every save waits its turn in one queue. A save that finds no group being
written leads: it waits at most the window (`SWITCHYARD_GROUP_COMMIT_WINDOW_MS`)
for company, takes what is queued (at most `max_saves`) and has it written in
one transaction, so one events-table lock and one WAL flush serve many saves.
Saves that arrive meanwhile queue, and the first of them leads the next group
as soon as this one is done, without waiting again: under load groups form by
themselves. Two saves of one aggregate never share a group (the later waits
for the next), so each keeps its own optimistic-concurrency check. The writer
decides each save's outcome: its notification ids, or the error it alone
raises (a stale fence, a superseded task, a conflict).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.persistence import StoredEvent

from switchyard.application.guards import WriteGuards
from switchyard.application.scheduling import PlanRow, TaskRow


@dataclass
class PendingSave:
    """One save waiting to be written: its events, guards and scheduling rows, then its outcome."""

    events: Sequence[StoredEvent]
    guards: WriteGuards
    scheduling: Sequence[PlanRow | TaskRow]
    ids: list[int] | None = None
    error: BaseException | None = None
    aggregates: frozenset[Any] = field(init=False)

    def __post_init__(self) -> None:
        self.aggregates = frozenset(e.originator_id for e in self.events)

    @property
    def decided(self) -> bool:
        """Whether the save was written or refused."""
        return self.ids is not None or self.error is not None

    def refuse(self, error: BaseException) -> None:
        """Decide that this save fails, alone, with the error."""
        self.error = error

    def result(self) -> list[int]:
        """The save's notification ids, or its error raised."""
        if self.error is not None:
            raise self.error
        assert self.ids is not None  # a decided save has one or the other
        return self.ids


GroupWriter = Callable[[list[PendingSave]], None]
"""Writes a group in one transaction and decides every save in it (it never raises)."""


class GroupCommit:
    """The queue of a process's saves and the leader that writes them in groups."""

    def __init__(self, write: GroupWriter, window_ms: float = 2.0, max_saves: int = 64) -> None:
        self._write = write
        self.window_seconds = window_ms / 1000
        self.max_saves = max_saves
        self._lock = threading.Lock()
        self._turn = threading.Condition(self._lock)  # a group was written
        self._arrived = threading.Condition(self._lock)  # the queue filled a group
        self._queue: list[PendingSave] = []
        self._leading = False

    def save(self, pending: PendingSave) -> list[int]:
        """Queue the save, wait until it is written (leading a group if none is), its ids."""
        with self._lock:
            self._queue.append(pending)
            if len(self._queue) >= self.max_saves:
                self._arrived.notify()
            waited = False
            while True:
                while self._leading and not pending.decided:
                    waited = True
                    self._turn.wait()
                if pending.decided:
                    return pending.result()
                self._leading = True
                if not waited and self.window_seconds > 0:
                    self._gather()
                group = self._take()
                self._lock.release()
                try:
                    self._write_deciding(group)
                finally:
                    self._lock.acquire()
                    self._leading = False
                    self._turn.notify_all()
                waited = True

    def _write_deciding(self, group: list[PendingSave]) -> None:
        try:
            self._write(group)
            unheard: BaseException = RuntimeError("the writer left this save undecided")
        except BaseException as exc:  # each save of the group hears it
            unheard = exc
        for member in group:  # none waits for ever
            if not member.decided:
                member.refuse(unheard)

    def _gather(self) -> None:
        deadline = time.monotonic() + self.window_seconds
        while len(self._queue) < self.max_saves:
            left = deadline - time.monotonic()
            if left <= 0 or not self._arrived.wait(left):
                return

    def _take(self) -> list[PendingSave]:
        group: list[PendingSave] = []
        touched: set[Any] = set()
        kept: list[PendingSave] = []
        for pending in self._queue:
            if len(group) < self.max_saves and touched.isdisjoint(pending.aggregates):
                group.append(pending)
                touched |= pending.aggregates
            else:
                kept.append(pending)
        self._queue = kept
        return group
