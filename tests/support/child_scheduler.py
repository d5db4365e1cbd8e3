"""A scheduler process for crash tests: the probe service type, stages that take a while.

Run as `python -m tests.support.child_scheduler` with:
  SWITCHYARD_TEST_STORE_ENV  the event-store env (JSON)
  SWITCHYARD_TEST_LOG        a file; each stage start and end is appended as a line
  SWITCHYARD_TEST_SLOW       the stage that sleeps, and for how long ("Two:3")
  SWITCHYARD_TEST_GRACE      seconds a stop waits for running stages (default 10)

It stops on SIGTERM the way `switchyard scheduler` does: exit 0 once every running stage
finished, or 3 as soon as the grace period runs out (its workers are daemon threads).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

from switchyard.adapters.bootstrap import bootstrap, build_scheduler
from switchyard.adapters.scheduler.process import SchedulerConfig
from switchyard.adapters.settings import Settings
from switchyard.application.ports import StepContext
from switchyard.domain.values import StepDefinition
from tests.support.schedulers import probe_factory


class SlowProbe:
    """Logs each stage's start and end to a file; one stage sleeps."""

    def __init__(self, log_path: str, slow: str) -> None:
        self.log_path = log_path
        name, _, seconds = slow.partition(":")
        self.slow_stage, self.slow_seconds = name, float(seconds or 0)

    def _log(self, line: str) -> None:
        with open(self.log_path, "a", encoding="utf-8") as log:
            log.write(f"{os.getpid()} {line}\n")

    def run(self, step: StepDefinition, context: StepContext) -> Mapping[str, Any]:
        """Log, sleep if this is the slow stage, log again."""
        stage = str(step.params["stage"])
        self._log(f"enter {stage} {context.fence}")
        if stage == self.slow_stage:
            time.sleep(self.slow_seconds)
        self._log(f"leave {stage} {context.fence}")
        return {"stage": stage}

    def undo(self, step: StepDefinition, recorded: Mapping[str, Any], context: StepContext) -> None:
        """Nothing to undo."""


def main() -> None:
    """Run a scheduler until SIGTERM, then exit as the scheduler role does."""
    logging.basicConfig(level=logging.INFO, format="%(process)d %(name)s %(message)s")
    env = json.loads(os.environ["SWITCHYARD_TEST_STORE_ENV"])
    app = bootstrap(
        Settings(database_url=None).with_loopback(), env=env, stage_factory=probe_factory()
    )
    probe = SlowProbe(os.environ["SWITCHYARD_TEST_LOG"], os.environ.get("SWITCHYARD_TEST_SLOW", ""))
    config = SchedulerConfig(
        workers=4,
        lease_seconds=2.0,
        heartbeat_seconds=0.3,
        poll_seconds=0.2,
        grace_seconds=float(os.environ.get("SWITCHYARD_TEST_GRACE", "10")),
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        drained = build_scheduler(app, {"probe": probe}, config, stop).run()
    finally:
        app.close()
    if not drained:
        sys.exit(3)


if __name__ == "__main__":
    main()
