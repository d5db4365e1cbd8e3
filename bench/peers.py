"""Side by side: switchyard and Procrastinate doing the same per-tenant work on one server.

The work: N tenants (default 1,000), each through S no-op stages (default 3), at
most C at once (default 50), one tenant's work never running twice at once. In
one run, on one PostgreSQL server, each round runs every contender once on a
fresh database (the order rotates from round to round):

- switchyard with 1 scheduler process, then with 2 (the plan's maxConcurrency
  is C; the workers are split between the schedulers), timed from the plan's
  creation to its last task's completion (`scheduler_bench`'s machinery);
- Procrastinate, one job per tenant (its stages run in memory: no durable
  checkpoint between them), worker concurrency C, `lock=` the tenant, fetch
  polling every 0.2 s as switchyard's schedulers poll here;
- Procrastinate, one job per stage, each deferring the next (a durable
  checkpoint per stage, the closest match to what switchyard records), worker
  concurrency C, `lock=` the tenant.

Procrastinate's worker runs in its own process, as switchyard's schedulers do,
and its jobs are deferred in one batch, as a plan is created in one command;
both are timed from that moment to the last completion. Prints tenants/s per
round and their medians, the per-round ratios (switchyard against each
Procrastinate shape, 2 schedulers against 1), and switchyard's append rate
(events/s) against the bare single-row insert transactions/s of the same server:
both as the rounds' events over their time (bounded by the schedulers' own work),
and as the append path's capacity, C threads of one process saving one event
each, back to back, through the event store's group commit.

    pip install -e '.[bench]'
    python bench/peers.py --rounds 3 --tenants 1000

Uses DATABASE_URL if set, else a throwaway embedded PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
from eventsourcing.persistence import StoredEvent
from scheduler_bench import (
    ROOT,
    bare_inserts_per_second,
    fresh_database,
    noop_plan,
    recipes_file,
    server,
    start_schedulers,
    wait_for_completion,
    wait_listening,
)

PER_TENANT = "procrastinate-job-per-tenant"
PER_STAGE = "procrastinate-job-per-stage"
ONE_SCHEDULER = "switchyard-1-scheduler"
TWO_SCHEDULERS = "switchyard-2-schedulers"
CONTENDERS = (ONE_SCHEDULER, TWO_SCHEDULERS, PER_TENANT, PER_STAGE)

POLL_SECONDS = 0.2
"""Procrastinate's fetch polling, as switchyard's schedulers here (SWITCHYARD_POLL_SECONDS).

Both wake on NOTIFY; the poll is what finds work that became runnable without
one. A job deferred while its lock is held is notified too early to be taken,
and its predecessor's end notifies nothing: with Procrastinate's default (5 s)
the job-per-stage shape spends most of its time waiting for that poll."""


@dataclass(frozen=True)
class Outcome:
    """One contender's round: seconds for the whole work, and events written (switchyard)."""

    seconds: float
    events: int = 0


# -- Procrastinate -----------------------------------------------------------


def procrastinate_app(url: str, concurrency: int) -> object:
    """A Procrastinate app on the database with the two shapes' tasks."""
    import procrastinate

    # It warns that the app lives in the main module: so it does, on purpose (one file).
    logging.getLogger("procrastinate").setLevel(logging.ERROR)
    connector = procrastinate.PsycopgConnector(
        conninfo=url, min_size=4, max_size=max(4, concurrency + 2)
    )
    app = procrastinate.App(connector=connector)

    @app.task(name="tenant_switch")
    async def tenant_switch(tenant: str, stages: int) -> None:
        for _ in range(stages):
            await asyncio.sleep(0)  # a no-op stage, run in memory

    @app.task(name="tenant_stage")
    async def tenant_stage(tenant: str, stage: int, stages: int) -> None:
        if stage + 1 < stages:  # the checkpoint: the next stage is a job of its own
            await tenant_stage.configure(lock=tenant).defer_async(
                tenant=tenant, stage=stage + 1, stages=stages
            )

    return app


def run_procrastinate_worker(url: str, concurrency: int) -> None:
    """The worker process: run both shapes' jobs until terminated."""
    app = procrastinate_app(url, concurrency)

    async def work() -> None:
        async with app.open_async():  # type: ignore[attr-defined]
            await app.run_worker_async(  # type: ignore[attr-defined]
                concurrency=concurrency,
                fetch_job_polling_interval=POLL_SECONDS,
                install_signal_handlers=True,
            )

    asyncio.run(work())


def defer_all(url: str, shape: str, tenants: int, stages: int, concurrency: int) -> float:
    """Defer every tenant's first job, one batch in one transaction, each locked by its tenant;
    when the batch was sent (the app's connections are opened before)."""
    app = procrastinate_app(url, concurrency)

    async def defer() -> float:
        async with app.open_async():  # type: ignore[attr-defined]
            name = "tenant_switch" if shape == PER_TENANT else "tenant_stage"
            task = app.tasks[name]  # type: ignore[attr-defined]
            base = task.configure().job
            first = {"stages": stages} if shape == PER_TENANT else {"stage": 0, "stages": stages}
            jobs = [
                base.evolve(lock=f"t{i:05d}", task_kwargs={"tenant": f"t{i:05d}", **first})
                for i in range(tenants)
            ]
            await app.connector.execute_query_async("SELECT 1")  # type: ignore[attr-defined]
            started = time.monotonic()
            await app.job_manager.batch_defer_jobs_async(jobs=jobs)  # type: ignore[attr-defined]
            return started

    return asyncio.run(defer())


def install_procrastinate(url: str) -> None:
    """Procrastinate's schema, on a fresh database."""
    app = procrastinate_app(url, 1)

    async def apply() -> None:
        async with app.open_async():  # type: ignore[attr-defined]
            await app.schema_manager.apply_schema_async()  # type: ignore[attr-defined]

    asyncio.run(apply())


def procrastinate_round(base_url: str, shape: str, args: argparse.Namespace) -> Outcome:
    """One round of a Procrastinate shape on a fresh database: seconds to the last job done."""
    url = fresh_database(base_url)
    install_procrastinate(url)
    command = [sys.executable, __file__, "--procrastinate-worker", url, "--concurrency"]
    worker = subprocess.Popen(
        [*command, str(args.concurrency)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    expected = args.tenants * (1 if shape == PER_TENANT else args.stages)
    try:
        wait_listening(url, 1)
        started = defer_all(url, shape, args.tenants, args.stages, args.concurrency)
        done = wait_for_jobs(url, expected, started + args.timeout)
    finally:
        worker.terminate()
        worker.wait(30)
    return Outcome(done - started)


def wait_for_jobs(url: str, expected: int, deadline: float) -> float:
    """Poll until `expected` jobs succeeded; when."""
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'"
            ).fetchone()
            if row is not None and row[0] >= expected:
                return time.monotonic()
            time.sleep(0.01)
    raise SystemExit("Procrastinate did not finish before the timeout")


# -- switchyard --------------------------------------------------------------


def switchyard_round(base_url: str, schedulers: int, args: argparse.Namespace) -> Outcome:
    """One round of switchyard with `schedulers` processes: seconds from creation to the end."""
    from switchyard.adapters.bootstrap import bootstrap
    from switchyard.adapters.settings import Settings

    url = fresh_database(base_url)
    recipes = recipes_file(Path(tempfile.mkdtemp(prefix="switchyard-peers-")), args.stages)
    app = bootstrap(Settings(database_url=url, service_types_file=recipes).with_loopback())
    workers = -(-args.concurrency // schedulers)
    processes = start_schedulers(url, schedulers, recipes, workers)
    try:
        wait_listening(url, schedulers)
        request = noop_plan(args.tenants, args.concurrency)
        before = app.recorder.max_notification_id() or 0
        started = time.monotonic()
        app.create_plan(request, "bench")
        pids = [p.pid for p in processes]
        done, _ = wait_for_completion(url, args.tenants, started + args.timeout, pids, [])
        events = (app.recorder.max_notification_id() or 0) - before
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(30)
        app.close()
    return Outcome(done - started, events)


# -- the run -----------------------------------------------------------------


def concurrent_appends(url: str, savers: int, seconds: float = 3.0) -> float:
    """Events/s that `savers` threads of one process append, each saving one event of an
    aggregate of its own (300 bytes, as the bare inserts' rows) back to back, through
    the event store's group commit."""
    from switchyard.adapters.bootstrap import bootstrap
    from switchyard.adapters.settings import Settings

    app = bootstrap(Settings(database_url=url))
    saved = [0] * savers
    deadline = time.monotonic() + seconds

    def save(index: int) -> None:
        aggregate, state = uuid.uuid4(), b"x" * 300
        while time.monotonic() < deadline:
            version = saved[index] + 1
            event = StoredEvent(aggregate, version, "bench:Appended", state)
            app.recorder.insert_events([event])
            saved[index] = version

    threads = [threading.Thread(target=save, args=(i,)) for i in range(savers)]
    started = time.monotonic()
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return sum(saved) / (time.monotonic() - started)
    finally:
        app.close()


def run(args: argparse.Namespace) -> None:
    """Run the rounds and print the figures."""
    rounds: list[dict[str, Outcome]] = []
    appends: list[float] = []
    with server() as base_url:
        bare = [bare_inserts_per_second(fresh_database(base_url))]
        for number in range(args.rounds):
            shift = number % len(CONTENDERS)
            order = CONTENDERS[shift:] + CONTENDERS[:shift]
            outcomes = {name: play(name, base_url, args) for name in order}
            rounds.append(outcomes)
            print_round(number + 1, outcomes, args.tenants)
            appends.append(concurrent_appends(fresh_database(base_url), args.concurrency))
        bare.append(bare_inserts_per_second(fresh_database(base_url)))
    summary(rounds, args.tenants, statistics.median(bare))
    capacity = statistics.median(appends)
    print(
        f"append path, {args.concurrency} concurrent saves {capacity:8.1f} events/s, bare "
        f"single-row inserts {statistics.median(bare):8.1f} txns/s: "
        f"{capacity / statistics.median(bare):.2f}x  per round " + fmt(appends)
    )


def play(name: str, base_url: str, args: argparse.Namespace) -> Outcome:
    """Run one contender once."""
    if name == ONE_SCHEDULER:
        return switchyard_round(base_url, 1, args)
    if name == TWO_SCHEDULERS:
        return switchyard_round(base_url, 2, args)
    return procrastinate_round(base_url, name, args)


def print_round(number: int, outcomes: dict[str, Outcome], tenants: int) -> None:
    """One round's tenants/s for each contender, in the order they ran."""
    cells = ", ".join(f"{n} {tenants / o.seconds:7.1f}" for n, o in outcomes.items())
    print(f"round {number}: tenants/s  {cells}", flush=True)


RATIOS: tuple[tuple[str, str, str], ...] = (
    ("switchyard 1 scheduler / Procrastinate job per stage  ", ONE_SCHEDULER, PER_STAGE),
    ("switchyard 1 scheduler / Procrastinate job per tenant ", ONE_SCHEDULER, PER_TENANT),
    ("switchyard 2 schedulers / Procrastinate job per stage ", TWO_SCHEDULERS, PER_STAGE),
    ("switchyard 2 schedulers / Procrastinate job per tenant", TWO_SCHEDULERS, PER_TENANT),
    ("switchyard 2 schedulers / 1 scheduler                 ", TWO_SCHEDULERS, ONE_SCHEDULER),
)
"""Each ratio printed: its label, and the contenders whose throughputs it divides."""


def summary(rounds: list[dict[str, Outcome]], tenants: int, bare: float) -> None:
    """Medians of tenants/s, per-round ratios and their medians, the append rate."""

    def rate(outcomes: dict[str, Outcome], name: str) -> float:
        return tenants / outcomes[name].seconds

    print()
    for name in CONTENDERS:
        values = [rate(r, name) for r in rounds]
        print(f"{name:32} median {statistics.median(values):7.1f} tenants/s  " + fmt(values))
    print()
    for label, top, bottom in RATIOS:
        values = [rate(r, top) / rate(r, bottom) for r in rounds]
        print(f"{label} median {statistics.median(values):5.2f}x  per round " + fmt(values, 2))
    print()
    for name in (ONE_SCHEDULER, TWO_SCHEDULERS):
        appends = [r[name].events / r[name].seconds for r in rounds]
        median = statistics.median(appends)
        print(
            f"{name} append path {median:8.1f} events/s, bare single-row inserts "
            f"{bare:8.1f} txns/s: {median / bare:.2f}x  per round " + fmt(appends)
        )


def fmt(values: list[float], digits: int = 1) -> str:
    """Numbers for a line of figures."""
    return "[" + ", ".join(f"{v:.{digits}f}" for v in values) + "]"


def main() -> None:
    """Parse the arguments and run (or be Procrastinate's worker process)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--stages", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--procrastinate-worker", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.procrastinate_worker:
        run_procrastinate_worker(args.procrastinate_worker, args.concurrency)
        return
    run(args)


if __name__ == "__main__":
    main()
