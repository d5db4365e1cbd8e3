"""Write guards: what a save must still hold, checked in the transaction of the write.

A worker saves under its claim: the write is allowed only while the claim's
fence still holds the task's lease. An operator's retry or rollback is allowed
only while no newer task of the tenant has been claimed. Both are decided by
the event store, under the same locks as the write, so no check can go stale
between reading and writing. A store that cannot check a guard refuses the
save loudly instead of ignoring it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from switchyard.application.ports import Claim


@dataclass(frozen=True)
class WriteGuards:
    """The conditions a save must meet, or be refused with nothing written."""

    fence: Claim | None = None
    """The worker's claim: refused (`task.stale_fence`) unless its fence holds the lease."""

    not_superseded: tuple[UUID, ...] = ()
    """Tasks being restarted: refused (`task.superseded`) once a newer task of the tenant
    has been claimed."""


@runtime_checkable
class GuardedStore(Protocol):
    """An event store that checks a save's guards in the transaction of its write."""

    def insert_events(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        guards: WriteGuards | None = None,
        **kwargs: Any,
    ) -> Sequence[int] | None:
        """Insert the events, in order, only if every guard holds; else raise and write nothing."""

    def checks_guards(self) -> bool:
        """Say that this store checks guards (stores without leases do not)."""
