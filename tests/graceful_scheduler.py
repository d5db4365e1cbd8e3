"""A scheduler process for shutdown tests: the probe service type and a grace period to choose.

Run as `python -m tests.graceful_scheduler` with the variables of `tests.child_scheduler`, and:
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

from adapters.bootstrap import bootstrap, build_scheduler
from adapters.scheduler_process import SchedulerConfig
from adapters.settings import Settings
from tests.child_scheduler import SlowProbe
from tests.schedulers import probe_factory


def main() -> None:
    """Run a scheduler until SIGTERM, then exit as the scheduler role does."""
    logging.basicConfig(level=logging.INFO, format="%(process)d %(name)s %(message)s")
    env = json.loads(os.environ["SWITCHYARD_TEST_STORE_ENV"])
    app = bootstrap(Settings(database_url=None), env=env, stage_factory=probe_factory())
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
