"""Notifiers: to the log, to a webhook (JSON over HTTP), fanned out, and rate-limited.

`RateLimitedNotifier` lets at most `limit` notifications per `window_seconds`
through for each key (by default the notification type and the plan: a plan
whose tasks all fail at once pages once, not fifty times); it drops the rest and
counts them by type in `suppressed` (and tells its meter).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

import httpx

from switchyard.application.counters import Counts
from switchyard.application.metrics import NO_METER, Meter
from switchyard.application.notifications import Notification, Notifier, Severity

log = logging.getLogger("switchyard.notifications")

LOG_LEVELS = {
    Severity.INFO: logging.INFO,
    Severity.WARNING: logging.WARNING,
    Severity.ERROR: logging.ERROR,
    Severity.CRITICAL: logging.CRITICAL,
}
"""The log level of each severity."""


class LoggingNotifier:
    """Writes each notification to the `switchyard.notifications` log at its severity."""

    def notify(self, notification: Notification) -> None:
        """Log the notification, its fields as structured `extra`."""
        log.log(
            LOG_LEVELS[notification.severity],
            "%s: task %s (tenant %s, stage %s): %s",
            notification.type,
            notification.task_id,
            notification.tenant_id,
            notification.stage,
            notification.message,
            extra={"notification": notification.to_data()},
        )


class WebhookNotifier:
    """POSTs each notification as JSON to a URL; a status other than 2xx raises."""

    def __init__(self, url: str, timeout_seconds: float = 5.0) -> None:
        self.url = url
        self._timeout = timeout_seconds

    def notify(self, notification: Notification) -> None:
        """Send the notification (a fresh connection each time: they are rare)."""
        with httpx.Client(timeout=self._timeout) as client:
            client.post(self.url, json=notification.to_data()).raise_for_status()


class FanOutNotifier:
    """Hands each notification to every notifier; one that fails does not stop the others."""

    def __init__(self, notifiers: Iterable[Notifier]) -> None:
        self._notifiers = tuple(notifiers)

    def notify(self, notification: Notification) -> None:
        """Deliver to each notifier in turn, logging those that fail."""
        for notifier in self._notifiers:
            try:
                notifier.notify(notification)
            except Exception:
                log.exception("%s could not deliver a notification", type(notifier).__name__)


def by_type_and_plan(notification: Notification) -> str:
    """The default rate-limit key: the notification's type and plan."""
    return f"{notification.type}:{notification.plan_id}"


class RateLimitedNotifier:
    """Passes at most `limit` notifications per key in any `window_seconds`; drops the rest."""

    def __init__(
        self,
        inner: Notifier,
        limit: int,
        window_seconds: float,
        key: Callable[[Notification], str] = by_type_and_plan,
        clock: Callable[[], float] = time.monotonic,
        meter: Meter = NO_METER,
    ) -> None:
        self.suppressed = Counts()
        self._meter = meter
        self._inner = inner
        self._limit = limit
        self._window = window_seconds
        self._key = key
        self._clock = clock
        self._lock = threading.Lock()
        self._sent: dict[str, deque[float]] = {}

    def notify(self, notification: Notification) -> None:
        """Deliver the notification unless its key used up its window; count it if dropped."""
        if not self._take(self._key(notification)):
            self.suppressed.increment(str(notification.type))
            self._meter.notification_suppressed(str(notification.type))
            log.info("rate limit: dropped a %s notification", notification.type)
            return
        self._inner.notify(notification)

    def _take(self, key: str) -> bool:
        """Whether the key may send now (and record it if so)."""
        now = self._clock()
        with self._lock:
            self._forget_before(now - self._window)
            sent = self._sent.setdefault(key, deque())
            if len(sent) >= self._limit:
                return False
            sent.append(now)
            return True

    def _forget_before(self, start: float) -> None:
        """Drop send times older than the window, and keys with none left."""
        for key in list(self._sent):
            sent = self._sent[key]
            while sent and sent[0] <= start:
                sent.popleft()
            if not sent:
                del self._sent[key]
