"""The relay's reader: turns the notification log into Kafka records in a process of its own.

Reading a batch from PostgreSQL and building its messages is Python work (about
a third of what the producer itself spends per message); in one process the two
would take turns on one interpreter lock. So a child process (spawned, one per
relay) reads and converts, and hands back ready records, while the relay's
process produces. The child opens only the event store's recorder, from the
application's environment, and the transcodings to read events with. If it
dies, the next read raises and the relay starts a new one; if the relay dies
(even by SIGKILL), the child notices within a second and exits. It also
remembers each aggregate's tenant and plan (`adapters.relay.attribution`).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from eventsourcing.persistence import ApplicationRecorder, InfrastructureFactory, JSONTranscoder
from eventsourcing.utils import Environment

from switchyard.adapters.kafka.format import KafkaRecord
from switchyard.adapters.relay.attribution import Attribution, first_events
from switchyard.application.app import Switchyard
from switchyard.application.transcodings import register_event_transcodings


@dataclass(frozen=True)
class Batch:
    """Records read from the notification log, and the id of the last one read."""

    records: list[KafkaRecord]
    last: int


class RecordReader:
    """Reads batches of records after a position, in a child process."""

    def __init__(self, env: Mapping[str, str], batch_size: int) -> None:
        self._env = dict(env)
        self._batch_size = batch_size
        self._pool: ProcessPoolExecutor | None = None

    async def read(self, after: int) -> Batch:
        """The records of the next batch after notification id `after`."""
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_open,
                initargs=(self._env,),
            )
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, _read, after, self._batch_size)

    def close(self) -> None:
        """Stop the child process (a new one starts on the next read)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


_recorder: ApplicationRecorder | None = None
"""The child process's event store: only its recorder, which reads the log."""

_attribution: Attribution | None = None
"""The child process's record builder, with what it remembers of aggregates."""


PARENT_CHECK_SECONDS = 1.0
"""How often the child looks whether the relay that started it is still alive."""


def _open(env: dict[str, str]) -> None:
    """In the child: open the event store the relay follows; end with the relay."""
    global _recorder, _attribution
    # A terminal's Ctrl-C (or a supervisor's signal to the process group) is for the
    # relay, which stops the reader itself once its batch is done.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    parent = os.getppid()
    threading.Thread(target=_exit_with, args=(parent,), name="parent-watch", daemon=True).start()
    factory = InfrastructureFactory.construct(
        Environment(Switchyard.name, {**env, "CREATE_TABLE": "n"})
    )
    _recorder = factory.application_recorder()
    transcoder = JSONTranscoder()
    register_event_transcodings(transcoder)
    _attribution = Attribution(transcoder, first_events(_recorder))


def _exit_with(parent: int) -> None:
    """Exit once the parent is gone (a killed relay cannot stop its child itself)."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)


def _read(after: int, batch_size: int) -> Batch:
    """In the child: the next batch, as records."""
    if _recorder is None or _attribution is None:
        raise RuntimeError("the reader's event store is not open")
    notifications = _recorder.select_notifications(after, batch_size, inclusive_of_start=False)
    records = _attribution.records(notifications)
    return Batch(records, notifications[-1].id if notifications else after)
