"""Relay benchmark: throughput to the broker against a bare producer, and commit-to-ack latency.

Writes N events to a fresh event store (plans of blue-green-gateway tenants), then:

- relay throughput: a relay (in a thread, as `switchyard relay` runs it) publishes
  the whole log from position 0 to a fresh topic; its rate is timed from its first
  acknowledged batch (its position moves) until its position reaches the last
  notification id; the start-up before (lock, reader process, topic check,
  producer connect, first batch) is printed apart, and a ratio with it included;
- bare producer: the same notifications, turned into the same records (key,
  value, headers, as the relay's reader builds them) before the clock starts,
  sent by a bare AIOKafkaProducer with the same settings (acks=all, no
  idempotence, same linger) and the same batching (send a batch, await its
  acknowledgements) to another fresh topic on the same broker, timed the same
  way (from its first acknowledged batch).
  The relay/bare ratio should be at least 0.8. The time reading the log and running
  `to_record` over it takes (the relay spends it inside its clock) is printed too.
  The two alternate for --rounds rounds (default 5), each on fresh topics, the
  relay republishing from the first event: the figures are the medians, as the
  shared machine's speed swings from one run to the next;
- latency at steady load: with the relay caught up, a writer creates small plans
  (2 tenants: 9 events a save) paced at R events/s for D seconds (pausing and
  resuming tasks, 1-2 events a save, cannot reach 500 events/s on a small machine);
  each event's commit time is taken right after its save returns. A watcher thread reads the
  relay's `position` every millisecond and notes when it changes; an event counts
  as acknowledged when the position first reaches its notification id. The relay
  sets its position after the broker acknowledged the batch and the position was
  written to PostgreSQL, so this overstates commit-to-ack by that one write (and
  by up to the 1 ms poll). Writer, relay and watcher share one process (and its
  GIL). p99 should stay under 100 ms at 500 events/s.

    python bench/relay_bench.py --events 100000 --seconds 10

Uses DATABASE_URL if set, else a throwaway embedded PostgreSQL; KAFKA_BOOTSTRAP_SERVERS
if set, else a throwaway embedded (memory-only) tansu broker.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import itertools
import os
import shutil
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from scheduler_bench import fresh_database, server

POLL_SECONDS = 0.001
"""How often the relay's position is read while timing its latency."""

WAIT_SECONDS = 0.02
"""How often the relay's position is read while timing its throughput: a tighter loop
would take the interpreter lock from the relay's thread a thousand times a second."""


@contextmanager
def broker() -> Iterator[str]:
    """KAFKA_BOOTSTRAP_SERVERS, or a throwaway embedded tansu broker."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield os.environ["KAFKA_BOOTSTRAP_SERVERS"]
        return
    from switchyard.adapters.embedded.kafka import start_kafka

    folder = Path(tempfile.mkdtemp(prefix="switchyard-bench-kafka-"))
    try:
        with start_kafka(folder) as embedded:
            yield embedded.bootstrap_servers
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def create_topics(bootstrap_servers: str, names: list[str], partitions: int) -> None:
    """Create the given topics on the broker."""

    async def create() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(name, partitions, 1) for name in names])
        finally:
            await admin.close()

    asyncio.run(create())


def plan_request(name: str, tenants: int) -> dict[str, Any]:
    """A plan of `tenants` new blue-green-gateway tenants (their ids start with the name)."""
    return {
        "name": name,
        "maxConcurrency": 50,
        "tenants": [
            {
                "tenantId": f"{name}-t{i:05d}",
                "serviceType": "blue-green-gateway",
                "targetVersion": "2.5.0",
                "endpoints": ["127.0.0.1:1"],
            }
            for i in range(tenants)
        ],
    }


def write_backlog(app: Any, events: int, tenants: int) -> int:
    """Create plans of `tenants` tenants until `events` events are stored; the last id."""
    last, plan = app.recorder.max_notification_id() or 0, 0
    while last < events:
        last = app.create_plan(plan_request(f"backlog{plan:04d}", tenants), "bench").sequence
        plan += 1
    return last


@contextmanager
def running_relay(url: str, config: Any) -> Iterator[Any]:
    """A relay in a container of its own, publishing from the first event, in a thread."""
    from switchyard.adapters.bootstrap import container
    from switchyard.adapters.settings import Settings

    with container(Settings(database_url=url)) as parts:
        relay = parts.relay(config, start_from=1)
        parts.in_thread("relay", relay.run, join_seconds=60)
        yield relay


@dataclass(frozen=True)
class Timing:
    """One publishing run: its start-up, up to the first batch acknowledged, and the rest."""

    startup: float
    events: int
    seconds: float

    @property
    def rate(self) -> float:
        """Events per second once going (after the first batch)."""
        return self.events / self.seconds

    def overall(self, total: int) -> float:
        """Events per second from the start, start-up included."""
        return total / (self.startup + self.seconds)


def wait_for(relay: Any, position: int, timeout: float) -> float:
    """Poll the relay's position until it reaches `position`; the monotonic time it did."""
    deadline = time.monotonic() + timeout
    while relay.position < position:
        if time.monotonic() > deadline:
            raise SystemExit(f"the relay stalled at {relay.position} of {position}")
        time.sleep(WAIT_SECONDS)
    return time.monotonic()


def timed_relay(relay: Any, started: float, last: int, timeout: float) -> Timing:
    """Time the relay publishing up to `last`: its first acknowledged batch, then the rest."""
    first_at = wait_for(relay, 1, timeout)
    first = relay.position
    done_at = wait_for(relay, last, timeout)
    return Timing(first_at - started, last - first, done_at - first_at)


def stored_records(app: Any, last: int) -> list[Any]:
    """Every stored event up to `last` as the relay's Kafka record."""
    from switchyard.adapters.relay.attribution import Attribution, first_events

    attribution = Attribution(app.mapper.transcoder, first_events(app.recorder))
    records, position = [], 0
    while position < last:
        page = app.recorder.select_notifications(position, 10_000, inclusive_of_start=False)
        records.extend(attribution.records(page))
        position = page[-1].id
    return records


def bare_timing(config: Any, topic: str, records: list[Any]) -> Timing:
    """A bare producer sending `records`, a batch at a time, all acknowledged, timed."""

    async def send() -> Timing:
        producer = AIOKafkaProducer(
            bootstrap_servers=config.bootstrap_servers,
            acks="all",
            enable_idempotence=False,
            linger_ms=config.linger_ms,
            compression_type=config.compression,
            max_batch_size=config.max_batch_bytes,
            request_timeout_ms=config.request_timeout_ms,
        )
        started = time.monotonic()
        await producer.start()
        try:
            first_at = 0.0
            for first in range(0, len(records), config.batch_size):
                futures = [
                    await producer.send(topic, r.value, key=r.key, headers=r.headers)
                    for r in records[first : first + config.batch_size]
                ]
                for result in await asyncio.gather(*futures, return_exceptions=True):
                    if isinstance(result, BaseException):
                        raise result
                first_at = first_at or time.monotonic()
            done_at = time.monotonic()
            sent = len(records) - min(config.batch_size, len(records))
            return Timing(first_at - started, sent, done_at - first_at)
        finally:
            await producer.stop()

    return asyncio.run(send())


def write_paced(app: Any, tenants: int, rate: float, seconds: float) -> dict[int, float]:
    """Create small plans at `rate` events/s for `seconds`; each event's id and commit time."""
    commits: dict[int, float] = {}
    last = app.recorder.max_notification_id() or 0
    started = time.monotonic()
    for plan in itertools.count():
        now = time.monotonic()
        if now - started >= seconds:
            break
        due = started + len(commits) / rate
        if due > now:
            time.sleep(due - now)
        sequence = app.create_plan(plan_request(f"load{plan:05d}", tenants), "bench").sequence
        committed = time.monotonic()
        for notification_id in range(last + 1, sequence + 1):
            commits[notification_id] = committed
        last = sequence
    return commits


def latencies_ms(
    relay: Any, app: Any, tenants: int, rate: float, seconds: float
) -> tuple[list[float], float]:
    """Commit-to-ack latencies (ms) of events written at `rate`; and the rate achieved."""
    changes: list[tuple[float, int]] = [(time.monotonic(), relay.position)]
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            position = relay.position
            if position != changes[-1][1]:
                changes.append((time.monotonic(), position))
            time.sleep(POLL_SECONDS)

    watcher = threading.Thread(target=watch, name="watcher")
    watcher.start()
    started = time.monotonic()
    commits = write_paced(app, tenants, rate, seconds)
    achieved = len(commits) / (time.monotonic() - started)
    try:
        last = max(commits)
        wait_for(relay, last, timeout=60)
        deadline = time.monotonic() + 10
        while changes[-1][1] < last and time.monotonic() < deadline:  # the watcher saw it
            time.sleep(POLL_SECONDS)
    finally:
        done.set()
        watcher.join()
    positions = [position for _, position in changes]
    return [
        max(0.0, changes[bisect.bisect_left(positions, i)][0] - t) * 1000
        for i, t in commits.items()
    ], achieved


def percentile(values: list[float], fraction: float) -> float:
    """The value below which `fraction` of the values lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def run(args: argparse.Namespace) -> None:
    """Run the benchmark and print its figures."""
    from switchyard.adapters.bootstrap import bootstrap
    from switchyard.adapters.relay.config import RelayConfig
    from switchyard.adapters.settings import Settings

    with server() as base_url, broker() as bootstrap_servers:
        url = fresh_database(base_url)
        app = bootstrap(Settings(database_url=url).with_loopback())  # endpoints on 127.0.0.1
        try:
            started = time.monotonic()
            last = write_backlog(app, args.events, args.tenants)
            print(f"events stored            {last:8d}  in {time.monotonic() - started:.1f} s")
            building = time.monotonic()
            records = stored_records(app, last)
            building = time.monotonic() - building
            relay_times, bare_times = [], []
            suffix = uuid.uuid4().hex[:8]
            for round_ in range(args.rounds):
                config = RelayConfig(
                    bootstrap_servers=bootstrap_servers,
                    topic=f"switchyard.bench.relay.{suffix}.{round_}",
                    partitions=args.partitions,
                    batch_size=args.batch_size,
                    linger_ms=args.linger_ms,
                )
                bare_topic = f"switchyard.bench.bare.{suffix}.{round_}"
                create_topics(bootstrap_servers, [config.topic, bare_topic], args.partitions)
                with running_relay(url, config) as relay:
                    relay_times.append(timed_relay(relay, time.monotonic(), last, args.timeout))
                    bare_times.append(bare_timing(config, bare_topic, records))
                    print(
                        f"round {round_ + 1}: relay {relay_times[-1].rate:.0f} events/s "
                        f"(start-up {relay_times[-1].startup:.2f} s), "
                        f"bare {bare_times[-1].rate:.0f} events/s "
                        f"(start-up {bare_times[-1].startup:.2f} s)",
                        flush=True,
                    )
                    if round_ == args.rounds - 1:
                        waits, achieved = latencies_ms(
                            relay, app, args.load_tenants, args.rate, args.seconds
                        )
        finally:
            app.close()
    report(args, last, (relay_times, bare_times, building), records, waits, achieved)


def report(
    args: argparse.Namespace,
    events: int,
    seconds: tuple[list[Timing], list[Timing], float],
    records: list[Any],
    waits: list[float],
    achieved: float,
) -> None:
    """Print the figures."""
    size = statistics.mean(
        len(r.key) + len(r.value) + sum(len(k) + len(v) for k, v in r.headers) for r in records
    )
    relay_times, bare_times, building = seconds
    relay_rate = statistics.median(t.rate for t in relay_times)
    bare_rate = statistics.median(t.rate for t in bare_times)
    ratios = [r.rate / b.rate for r, b in zip(relay_times, bare_times, strict=True)]
    overall = statistics.median(t.overall(events) for t in relay_times) / statistics.median(
        t.overall(len(records)) for t in bare_times
    )
    print(
        f"events={events} batch_size={args.batch_size} linger_ms={args.linger_ms} "
        f"partitions={args.partitions} rounds={args.rounds} "
        f"mean message {size:.0f} B (key+value+headers)"
    )
    startup = statistics.median(t.startup for t in relay_times)
    print(
        f"relay                    {relay_rate:8.0f} events/s  (median of {len(relay_times)}, "
        f"after its first batch; start-up to first ack {startup:.2f} s)"
    )
    print(f"bare producer            {bare_rate:8.0f} events/s  (median of {len(bare_times)})")
    print(f"read + to_record alone   {len(records) / building:8.0f} events/s  ({building:.2f} s)")
    print(
        f"ratio relay/bare         {relay_rate / bare_rate:8.2f}  (of the medians; per round "
        f"{min(ratios):.2f}-{max(ratios):.2f}, median {statistics.median(ratios):.2f}; "
        "target >= 0.8)"
    )
    print(f"ratio with start-ups     {overall:8.2f}  (whole runs, start-up included)")
    print(
        f"steady load              {achieved:8.0f} events/s for {args.seconds:g} s "
        f"(plans of {args.load_tenants} tenants)"
    )
    print(f"commit -> ack p50        {statistics.median(waits):8.1f} ms  ({len(waits)} events)")
    print(f"commit -> ack p99        {percentile(waits, 0.99):8.1f} ms  (target < 100)")
    print(f"commit -> ack max        {max(waits):8.1f} ms")


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--tenants", type=int, default=1000, help="per plan of the backlog")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--linger-ms", type=int, default=5)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--rate", type=float, default=500, help="events/s of the steady load")
    parser.add_argument("--seconds", type=float, default=10, help="of the steady load")
    parser.add_argument("--load-tenants", type=int, default=2, help="per plan of the steady load")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument(
        "--rounds", type=int, default=5, help="relay and bare runs, alternating (medians)"
    )
    run(parser.parse_args())


if __name__ == "__main__":
    main()
