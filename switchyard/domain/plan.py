"""The Plan aggregate: one switch-over of many tenants, and the plan-wide commands.

A plan's status is not stored: it is derived from its tasks
(`domain.status.derive_plan_status`). The plan records who asked for what.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from eventsourcing.domain import Aggregate, event


class Plan(Aggregate):
    """A switch-over: its tasks in FIFO order, its concurrency limit, who created it."""

    @event("Created")
    def __init__(
        self,
        id: UUID,
        name: str,
        max_concurrency: int,
        task_ids: Sequence[UUID],
        tenant_ids: Sequence[str],
        actor: str,
        idempotency_key: str | None,
        fingerprint: str,
    ) -> None:
        """Record a new plan: its tasks in FIFO order, its concurrency limit, who asked."""
        self.name = name
        self.max_concurrency = max_concurrency
        self.task_ids = tuple(task_ids)
        self.tenant_ids = tuple(tenant_ids)
        self.created_by = actor
        self.idempotency_key = idempotency_key
        self.fingerprint = fingerprint

    @event("PauseRequested")
    def request_pause(self, actor: str, reason: str | None = None) -> None:
        """Record that an operator asked to pause every task of the plan."""

    @event("ResumeRequested")
    def request_resume(self, actor: str, reason: str | None = None) -> None:
        """Record that an operator asked to resume every paused task of the plan."""

    @event("CancelRequested")
    def request_cancel(self, actor: str, reason: str | None = None) -> None:
        """Record that an operator asked to cancel every unfinished task of the plan."""

    @event("RetryRequested")
    def request_retry(self, actor: str, from_checkpoint: bool, reason: str | None = None) -> None:
        """Record that an operator asked to retry every failed or cancelled task."""

    @event("RollbackRequested")
    def request_rollback(self, actor: str, reason: str | None = None) -> None:
        """Record that an operator asked to roll back every task of the plan."""
