"""Scheduler benchmark: run a plan of N tenants with no-op stages on K scheduler processes.

Prints tasks/s, stage transitions/s, events written/s, p50/p99 time from plan
creation to each task's start, the schedulers' peak memory, and, from the same
server in the same run, what a bare psycopg loop inserts as single-row
transactions (the append path should reach at least half of it).

    python bench/scheduler_bench.py --tenants 1000 --schedulers 1
    python bench/scheduler_bench.py --tenants 1000 --schedulers 2

Uses DATABASE_URL if set, else a throwaway embedded PostgreSQL.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import yaml
from psycopg.conninfo import make_conninfo

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def server() -> Iterator[str]:
    """DATABASE_URL, or a throwaway embedded PostgreSQL."""
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
        return
    from switchyard.adapters.embedded.postgres import throwaway_server

    with throwaway_server("switchyard-bench-") as url:
        yield url


def fresh_database(url: str) -> str:
    """A new empty database on the server; its URL."""
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return make_conninfo(url, dbname=name)


def bare_inserts_per_second(url: str, seconds: float = 3.0) -> float:
    """Single-row insert transactions per second of an event-shaped row, bare psycopg."""
    payload = b"x" * 300
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE bare (id bigserial PRIMARY KEY, aggregate uuid, version int, "
            "topic text, state bytea)"
        )
        count, deadline = 0, time.monotonic() + seconds
        started = time.monotonic()
        while time.monotonic() < deadline:
            with conn.transaction():
                conn.execute(
                    "INSERT INTO bare (aggregate, version, topic, state) VALUES (%s, 1, 't', %s)",
                    (uuid.uuid4(), payload),
                )
            count += 1
        return count / (time.monotonic() - started)


def recipes_file(folder: Path, stages: int) -> Path:
    """A service type of `stages` no-op stages, as a recipe file."""
    path = folder / "bench-types.yaml"
    steps = [{"name": f"Stage{i + 1}", "steps": [{"kind": "noop"}]} for i in range(stages)]
    path.write_text(yaml.safe_dump({"bench": {"stages": steps}}))
    return path


def noop_plan(tenants: int, concurrency: int) -> dict[str, object]:
    """A plan of `tenants` tenants of the no-op `bench` service type, `concurrency` at once
    (their endpoint is never called)."""
    return {
        "maxConcurrency": concurrency,
        "tenants": [
            {
                "tenantId": f"t{i:05d}",
                "serviceType": "bench",
                "targetVersion": "2",
                "endpoints": ["127.0.0.1:1"],
            }
            for i in range(tenants)
        ],
    }


def start_schedulers(
    url: str, count: int, recipes: Path, workers: int
) -> list[subprocess.Popen[bytes]]:
    """Start `count` scheduler processes on the database."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SWITCHYARD_SERVICE_TYPES_FILE": str(recipes),
        "SWITCHYARD_WORKERS": str(workers),
        "SWITCHYARD_POLL_SECONDS": "0.2",
        "REDIS_URL": "redis://127.0.0.1:1/0",  # no-op steps never touch Redis
        "SWITCHYARD_SCHEDULER_METRICS_PORT": "0",  # a free port each: several run at once
    }
    command = [str(Path(sys.executable).parent / "switchyard"), "scheduler"]
    return [
        subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for _ in range(count)
    ]


def wait_listening(url: str, count: int, timeout: float = 60.0) -> None:
    """Wait until `count` schedulers listen for work on the database (they are idle)."""
    query = (
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND query LIKE 'LISTEN%'"
    )
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while (row := conn.execute(query).fetchone()) is None or row[0] < count:
            if time.monotonic() > deadline:
                raise SystemExit(f"the schedulers did not start within {timeout:g} s")
            time.sleep(0.05)


def memory_mib(pid: int, field: str = "VmHWM") -> float:
    """A memory figure of the process from /proc (VmHWM: peak resident), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run(args: argparse.Namespace) -> None:
    """Run the benchmark and print its figures."""
    from switchyard.adapters.bootstrap import bootstrap
    from switchyard.adapters.settings import Settings

    with server() as base_url:
        bare = bare_inserts_per_second(fresh_database(base_url))
        url = fresh_database(base_url)
        folder = Path(tempfile.mkdtemp(prefix="switchyard-bench-"))
        recipes = recipes_file(folder, args.stages)
        settings = Settings(database_url=url, service_types_file=recipes).with_loopback()
        app = bootstrap(settings)
        schedulers = start_schedulers(url, args.schedulers, recipes, args.workers)
        try:
            wait_listening(url, args.schedulers)  # connected and idle before the clock starts
            request = noop_plan(args.tenants, args.concurrency)
            before = app.recorder.max_notification_id() or 0
            started = time.monotonic()
            created = app.create_plan(request, "bench")
            pids = [p.pid for p in schedulers]
            done_at, marks = wait_for_completion(
                url, args.tenants, started + args.timeout, pids, args.memory_marks
            )
            elapsed = done_at - started
            events = (app.recorder.max_notification_id() or 0) - before
            waits = start_delays(app, created.plan_id, created.task_ids)
            memory = [memory_mib(pid) for pid in pids]
        finally:
            for process in schedulers:
                process.terminate()
            for process in schedulers:
                process.wait(30)
            app.close()
    report(args, elapsed, events, waits, memory, bare)
    for mark, sizes in sorted(marks.items()):
        print(f"RSS MiB at task {mark:>6}   " + ", ".join(f"{m:.1f}" for m in sizes))
    if len(marks) >= 2:
        first, last = marks[min(marks)], marks[max(marks)]
        growth = ", ".join(f"{(b - a) / a:+.1%}" for a, b in zip(first, last, strict=True))
        print(f"RSS growth {min(marks)} -> {max(marks)}: {growth}")


def wait_for_completion(
    url: str, tenants: int, deadline: float, pids: list[int], marks: list[int]
) -> tuple[float, dict[int, list[float]]]:
    """Poll until every task completed; the time, and the schedulers' RSS at each mark."""
    rss: dict[int, list[float]] = {}
    pending = sorted(marks)
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM switchyard_queue_tasks WHERE status = 'COMPLETED'"
            ).fetchone()
            done = row[0] if row is not None else 0
            while pending and done >= pending[0]:
                rss[pending.pop(0)] = [memory_mib(pid, "VmRSS") for pid in pids]
            if done >= tenants:
                return time.monotonic(), rss
            time.sleep(0.01)
    raise SystemExit("the plan did not complete before the timeout")


def start_delays(app: object, plan_id: uuid.UUID, task_ids: tuple[uuid.UUID, ...]) -> list[float]:
    """Seconds from the plan's creation to each task's first start."""
    events = app.events  # type: ignore[attr-defined]
    created = next(iter(events.get(plan_id))).timestamp
    delays = []
    for task_id in task_ids:
        start = next(e for e in events.get(task_id) if type(e).__name__ == "Started")
        delays.append((start.timestamp - created).total_seconds())
    return delays


def report(
    args: argparse.Namespace,
    elapsed: float,
    events: int,
    waits: list[float],
    memory: list[float],
    bare: float,
) -> None:
    """Print the figures."""
    waits.sort()
    p99 = waits[min(len(waits) - 1, int(len(waits) * 0.99))]
    events_per_second = events / elapsed
    print(
        f"tenants={args.tenants} stages={args.stages} maxConcurrency={args.concurrency} "
        f"schedulers={args.schedulers} workers={args.workers}"
    )
    print(f"plan completed in        {elapsed:8.2f} s")
    print(f"tasks per second         {args.tenants / elapsed:8.1f}")
    print(f"stage transitions/s      {args.tenants * args.stages / elapsed:8.1f}")
    print(f"events written/s         {events_per_second:8.1f}  ({events} events)")
    print(f"bare insert txns/s       {bare:8.1f}  (ratio {events_per_second / bare:.2f})")
    print(f"creation -> start p50    {statistics.median(waits):8.3f} s")
    print(f"creation -> start p99    {p99:8.3f} s")
    print(f"first task started after {waits[0]:8.3f} s")
    print("scheduler peak RSS MiB   " + ", ".join(f"{m:.1f}" for m in memory))


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--stages", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--schedulers", type=int, default=1)
    parser.add_argument(
        "--workers", type=int, default=0, help="per scheduler; default: concurrency / schedulers"
    )
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument(
        "--memory-marks",
        type=lambda text: [int(part) for part in text.split(",") if part],
        default=[],
        help="completed-task counts at which to sample the schedulers' RSS, e.g. 1000,10000",
    )
    args = parser.parse_args()
    args.workers = args.workers or -(-args.concurrency // args.schedulers)
    run(args)


if __name__ == "__main__":
    main()
