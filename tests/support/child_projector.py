"""A projector process for fault tests.

Run as `python -m tests.support.child_projector` with:
  SWITCHYARD_TEST_STORE_ENV  the event-store env (JSON)
  SWITCHYARD_TEST_KAFKA      the broker's bootstrap servers
  SWITCHYARD_TEST_TOPIC      the topic
  SWITCHYARD_TEST_GROUP      the consumer group
It logs `projector: assigned partitions [...]` once it has partitions.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading

from switchyard.adapters.bootstrap import container
from switchyard.adapters.projector.config import ProjectorConfig
from switchyard.adapters.settings import Settings


def main() -> None:
    """Project until SIGTERM, in small batches so that a kill lands mid-batch."""
    logging.basicConfig(level=logging.INFO, format="%(process)d %(name)s %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    config = ProjectorConfig(
        bootstrap_servers=os.environ["SWITCHYARD_TEST_KAFKA"],
        topic=os.environ["SWITCHYARD_TEST_TOPIC"],
        group=os.environ["SWITCHYARD_TEST_GROUP"],
        max_batch=5,
        retry_seconds=0.2,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    env = json.loads(os.environ["SWITCHYARD_TEST_STORE_ENV"])
    with container(Settings(database_url=None), env=env, stop=stop) as parts:
        parts.projector(config).run()


if __name__ == "__main__":
    main()
