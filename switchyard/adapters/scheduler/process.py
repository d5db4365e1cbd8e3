"""The `switchyard scheduler` role: claim runnable tasks and work on them in threads.

One dispatcher claims tasks while a worker thread is free, as many at once as
threads are free, and waits on the event store's NOTIFY (or a short poll) when
there is nothing to claim. One heartbeat thread renews every active lease and
publishes progress. On stop (SIGTERM/SIGINT) it claims nothing more, lets
running stages finish within a grace period, and releases what it holds; what
it cannot finish is taken over later, from its checkpoint, by any scheduler.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from switchyard.adapters.logs import LIFECYCLE
from switchyard.application.ports import Claim, Leases
from switchyard.application.worker import ActiveClaims, TaskWorker, heartbeat

log = logging.getLogger(__name__)


class SystemClock:
    """The machine's clock, in UTC."""

    def now(self) -> datetime:
        """The current time, timezone-aware."""
        return datetime.now(UTC)


@dataclass(frozen=True)
class SchedulerConfig:
    """How a scheduler process runs: threads, lease and heartbeat timings, grace."""

    workers: int = 16
    lease_seconds: float = 30.0
    heartbeat_seconds: float = 10.0
    poll_seconds: float = 1.0
    grace_seconds: float = 30.0


def worker_id() -> str:
    """A unique name for this scheduler process: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class SchedulerProcess:
    """Runs claimed tasks on a thread pool until stopped."""

    def __init__(
        self,
        worker: TaskWorker,
        leases: Leases,
        claims: ActiveClaims,
        config: SchedulerConfig,
        stop: threading.Event,
    ) -> None:
        self.worker = worker
        self.leases = leases
        self.claims = claims
        self.config = config
        self.stop = stop
        self._free = threading.Semaphore(config.workers)

    def run(self) -> bool:
        """Dispatch until `stop` is set, then drain; False if work was left running."""
        beating = threading.Event()
        beats = threading.Thread(target=self._heartbeats, args=(beating,), daemon=True)
        beats.start()
        running: list[threading.Thread] = []
        while not self.stop.is_set():
            claims = self._next_claims()
            running = [t for t in running if t.is_alive()]
            for claim in claims:
                # Daemon threads: past the grace period the process may exit without them.
                worker = threading.Thread(target=self._work, args=(claim,), daemon=True)
                worker.start()
                running.append(worker)
        grace = self.config.grace_seconds
        log.info("stopping: waiting up to %.0fs for running tasks", grace, extra=LIFECYCLE)
        deadline = time.monotonic() + grace
        for thread in running:
            thread.join(max(0.0, deadline - time.monotonic()))
        unfinished = sum(thread.is_alive() for thread in running)
        beating.set()
        self.leases.close()
        if unfinished:
            log.warning("%d task(s) left running; they will be taken over", unfinished)
        return not unfinished

    def _next_claims(self) -> list[Claim]:
        """Once a worker thread is free, claim a task for each free one (none if none may
        run; then wait for work)."""
        if not self._free.acquire(timeout=self.config.poll_seconds):
            return []
        free = 1
        while self._free.acquire(blocking=False):
            free += 1
        try:
            claims = self.leases.claim_many(self.worker.owner, self.config.lease_seconds, free)
        except Exception:
            log.exception("claim failed; retrying after the poll interval")
            self._free.release(free)
            # Not wait_for_work: with the database down it returns at once, and the
            # dispatcher would spin.
            self.stop.wait(self.config.poll_seconds)
            return []
        if len(claims) < free:
            self._free.release(free - len(claims))
        if not claims:
            self.leases.wait_for_work(self.config.poll_seconds)
        return claims

    def _work(self, claim: Claim) -> None:
        try:
            self.worker.work(claim)
        except Exception:
            log.exception("worker failed on task %s; it will be taken over", claim.task_id)
        finally:
            self._free.release()

    def _heartbeats(self, beating: threading.Event) -> None:
        while not beating.wait(self.config.heartbeat_seconds):
            try:
                heartbeat(self.claims, self.leases, self.worker.owner, self.config.lease_seconds)
            except Exception:
                log.exception("heartbeat failed")
