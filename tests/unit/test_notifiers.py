"""Notifiers: log, webhook on a real local server, fan-out and the rate limiter."""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from datetime import UTC, datetime

import httpx
import pytest

from switchyard.adapters.scheduler.notifiers import (
    FanOutNotifier,
    LoggingNotifier,
    RateLimitedNotifier,
    WebhookNotifier,
)
from switchyard.application.notifications import Notification, NotificationType, Severity
from switchyard.domain.values import FailureType
from tests.support.webhooks import webhook_server

PLAN = uuid.uuid4()

FAILED = Notification(
    type=NotificationType.MAX_RETRY_REACHED,
    severity=Severity.ERROR,
    task_id=uuid.uuid4(),
    plan_id=PLAN,
    tenant_id="acme",
    stage="Switch",
    failure_type=FailureType.IO,
    message="redis: connection refused",
    occurred_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
)


class Recorder:
    """A notifier at the boundary that keeps what it is given."""

    def __init__(self) -> None:
        self.got: list[Notification] = []

    def notify(self, notification: Notification) -> None:
        """Keep the notification."""
        self.got.append(notification)


class Broken:
    """A notifier whose delivery always fails."""

    def notify(self, notification: Notification) -> None:
        """Fail."""
        raise httpx.ConnectError("down")


class Clock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_to_data_gives_plain_json_in_camel_case() -> None:
    data = FAILED.to_data()
    assert data["type"] == "MAX_RETRY_REACHED"
    assert data["taskId"] == str(FAILED.task_id)
    assert data["failureType"] == "io"
    assert data["occurredAt"] == "2025-01-02T03:04:05+00:00"


def test_logging_notifier_logs_at_the_severity(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="switchyard.notifications"):
        LoggingNotifier().notify(FAILED)
        LoggingNotifier().notify(replace(FAILED, severity=Severity.WARNING))
    assert [r.levelno for r in caplog.records] == [logging.ERROR, logging.WARNING]
    assert caplog.records[0].notification == FAILED.to_data()


def test_webhook_posts_the_notification_as_json() -> None:
    with webhook_server() as hook:
        WebhookNotifier(hook.url).notify(FAILED)
    assert hook.received == [FAILED.to_data()]


def test_webhook_raises_on_an_error_status() -> None:
    with webhook_server() as hook:
        hook.status = 500
        with pytest.raises(httpx.HTTPStatusError) as failed:
            WebhookNotifier(hook.url).notify(FAILED)
    assert failed.value.response.status_code == 500


def test_fan_out_delivers_to_the_others_when_one_fails() -> None:
    recorder = Recorder()
    FanOutNotifier([Broken(), recorder]).notify(FAILED)
    assert recorder.got == [FAILED]


class TestRateLimit:
    def test_passes_up_to_the_limit_per_window_then_drops_and_counts(self) -> None:
        recorder, clock = Recorder(), Clock()
        limited = RateLimitedNotifier(recorder, limit=2, window_seconds=60, clock=clock)
        for _ in range(5):
            limited.notify(FAILED)
        assert len(recorder.got) == 2
        assert limited.suppressed.get("MAX_RETRY_REACHED") == 3

    def test_the_window_slides(self) -> None:
        recorder, clock = Recorder(), Clock()
        limited = RateLimitedNotifier(recorder, limit=2, window_seconds=60, clock=clock)
        limited.notify(FAILED)
        clock.now = 30
        limited.notify(FAILED)
        clock.now = 61
        limited.notify(FAILED)
        limited.notify(FAILED)
        assert len(recorder.got) == 3
        assert limited.suppressed.get("MAX_RETRY_REACHED") == 1

    def test_each_type_and_plan_has_its_own_budget(self) -> None:
        recorder = Recorder()
        limited = RateLimitedNotifier(recorder, limit=1, window_seconds=60, clock=Clock())
        limited.notify(FAILED)
        limited.notify(replace(FAILED, plan_id=uuid.uuid4()))
        limited.notify(replace(FAILED, type=NotificationType.TAKEOVER))
        limited.notify(FAILED)
        assert len(recorder.got) == 3
        assert limited.suppressed.get("MAX_RETRY_REACHED") == 1
        assert limited.suppressed.get("TAKEOVER") == 0
