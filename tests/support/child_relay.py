"""A relay process for fault tests.

Run as `python -m tests.support.child_relay` with:
  SWITCHYARD_TEST_STORE_ENV  the event-store env (JSON)
  SWITCHYARD_TEST_KAFKA      the broker's bootstrap servers
  SWITCHYARD_TEST_TOPIC      the topic
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading

from switchyard.adapters.bootstrap import container
from switchyard.adapters.relay.config import RelayConfig
from switchyard.adapters.settings import Settings


def main() -> None:
    """Relay until SIGTERM, in small batches so a kill lands mid-publish."""
    logging.basicConfig(level=logging.INFO, format="%(process)d %(name)s %(message)s")
    config = RelayConfig(
        bootstrap_servers=os.environ["SWITCHYARD_TEST_KAFKA"],
        topic=os.environ["SWITCHYARD_TEST_TOPIC"],
        batch_size=10,
        poll_seconds=0.2,
        standby_seconds=0.2,
        max_backoff_seconds=1.0,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    env = json.loads(os.environ["SWITCHYARD_TEST_STORE_ENV"])
    with container(Settings(database_url=None), env=env, stop=stop) as parts:
        parts.relay(config).run()


if __name__ == "__main__":
    main()
