"""Notifications for people: what happened to which task, and the Notifier port.

The scheduler's worker sends one when a task fails for good (MAX_RETRY_REACHED
when a retryable failure ran out of attempts, NON_RETRYABLE_FAILED otherwise)
and when it takes a task over from a worker whose lease expired (TAKEOVER).
The other types (DEAD_LETTER, LEASE_RENEW_FAILED, PERSIST_FAILED, ENGINE_ERROR)
have no sender yet.
Adapters deliver them (log, webhook) and rate-limit them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol
from uuid import UUID

from switchyard.domain.values import FailureType


class NotificationType(StrEnum):
    """What a notification is about."""

    DEAD_LETTER = "DEAD_LETTER"
    MAX_RETRY_REACHED = "MAX_RETRY_REACHED"
    NON_RETRYABLE_FAILED = "NON_RETRYABLE_FAILED"
    TAKEOVER = "TAKEOVER"
    LEASE_RENEW_FAILED = "LEASE_RENEW_FAILED"
    PERSIST_FAILED = "PERSIST_FAILED"
    ENGINE_ERROR = "ENGINE_ERROR"


class Severity(StrEnum):
    """How urgently a person should look."""

    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"


@dataclass(frozen=True)
class Notification:
    """One thing a person should hear about, with the task it concerns."""

    type: NotificationType
    severity: Severity
    task_id: UUID
    plan_id: UUID
    tenant_id: str
    stage: str | None
    failure_type: FailureType | None
    message: str
    occurred_at: datetime

    def to_data(self) -> dict[str, Any]:
        """Give the notification as plain JSON data (camelCase, like the events)."""
        return {
            "type": str(self.type),
            "severity": str(self.severity),
            "taskId": str(self.task_id),
            "planId": str(self.plan_id),
            "tenantId": self.tenant_id,
            "stage": self.stage,
            "failureType": None if self.failure_type is None else str(self.failure_type),
            "message": self.message,
            "occurredAt": self.occurred_at.isoformat(),
        }


class Notifier(Protocol):
    """Delivers notifications to people (a log, a webhook, a pager)."""

    def notify(self, notification: Notification) -> None:
        """Deliver the notification; raise if it could not be delivered.

        Callers log the error and carry on: a notifier never stops the work.
        """
        ...
