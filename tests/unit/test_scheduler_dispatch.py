"""The scheduler's dispatcher with its database down: it waits its poll interval between claims."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

from switchyard.adapters.scheduler.process import SchedulerConfig, SchedulerProcess
from switchyard.application.ports import Claim
from switchyard.application.worker import ActiveClaims

POLL_SECONDS = 0.1
RUN_SECONDS = 1.0


class DownLeases:
    """Leases whose database refuses every connection, as the real ones then behave."""

    def __init__(self) -> None:
        self.claims = 0

    def claim_many(self, owner: str, ttl_seconds: float, limit: int) -> list[Claim]:
        """Fail, as a refused connection does."""
        self.claims += 1
        raise ConnectionRefusedError("database down")

    def wait_for_work(self, timeout_seconds: float) -> None:
        """Return at once, as the LISTEN connection cannot be opened either."""

    def renew(self, *args: Any) -> bool:
        """Nothing is claimed, so nothing is renewed."""
        return False

    def release(self, *args: Any) -> None:
        """Nothing is claimed, so nothing is released."""

    def close(self) -> None:
        """Nothing to close."""


def test_a_failing_claim_is_retried_after_the_poll_interval_not_at_once() -> None:
    leases = DownLeases()
    stop = threading.Event()
    config = SchedulerConfig(
        workers=2, lease_seconds=5, heartbeat_seconds=5, poll_seconds=POLL_SECONDS, grace_seconds=0
    )
    worker: Any = SimpleNamespace(owner="worker-1")
    scheduler = SchedulerProcess(worker, leases, ActiveClaims(), config, stop)  # type: ignore[arg-type]
    runner = threading.Thread(target=scheduler.run)
    runner.start()
    stop.wait(RUN_SECONDS)
    stop.set()
    runner.join(10)
    assert not runner.is_alive()
    assert 1 <= leases.claims <= 2 * RUN_SECONDS / POLL_SECONDS
