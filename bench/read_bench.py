"""Read-side benchmark: the projector's throughput and lag, and the read queries' latency.

Three parts (issue 11), each printed with its target:

- projector throughput: N events (default 100,000) are stored in a fresh event store
  as real runs make them: plans of `--plan-tenants` new tenants, then each task
  claimed, run through its three stages and completed by a played worker (saved a
  few hundred tasks a transaction): per tenant its task's Created, Queued, Started,
  3 x StageStarted/StageCompleted and Completed, its TenantTasks' Registered and
  TaskAssigned, and a plan's Created per plan. Each round, a relay (in a thread, as
  relay_bench runs it) publishes the whole log to a fresh topic, timed as relay_bench
  times it (from its first acknowledged batch to its position at the last event);
  then the read tables are emptied and a projector in a fresh group (in a thread, as
  `switchyard projector` runs it, its default batch of 1000) applies the preloaded
  topic, timed from its first applied batch until its `applied` count reaches every
  event (read every 20 ms); its start-up (topic check, group join, seek, first batch)
  is printed apart, and `freshness.wait_for` then checks the read tables reflect the
  last event. Target: projector rate >= 0.5 x the relay's (medians of `--rounds`; one
  by default, as a projector round of 100,000 events takes minutes on a small machine).
- lag: in the last round, relay and projector caught up, the in-thread ones stop and
  `switchyard relay` and `switchyard projector` start in processes of their own, as they
  are deployed (each continues from its position stored in PostgreSQL; the projector in
  a group of its own, which no stopped member has to time out of), after a VACUUM
  ANALYZE and a CHECKPOINT (what autovacuum and the checkpointer do after the backlog's
  100,000 events would otherwise run during the timing); once a first plan has gone
  through them, relay_bench's paced writer creates plans of 2 tenants (9 events a save)
  at `--rate` events/s for `--seconds`; each event's commit time is taken right after
  its save returns. A watcher thread reads every 5 ms the audit rows (one per event,
  committed with the event's other rows) above the lowest sequence it has not seen yet,
  and notes when each first appears. So the lag includes the relay's wake-up (NOTIFY),
  read, publish and broker ack, the projector's fetch and transaction, and up to the 5
  ms poll and its query (a 1 ms poll's thousand queries a second take CPU from the roles
  it times, on a machine of 2 cores). Target: p99 < 200 ms at 500 events/s.
- queries: another fresh database's read tables are filled directly by COPY, not by
  the projector: `--plans` plans, one of them of `--tenants` (50,000) tasks, partly
  done; the tasks' rows; a row per tenant; and `--audit-rows` (1,000,000) audit rows in
  log order, as the projector writes them (task histories like the above, some
  failed, paused or running; plans' Created with their task and tenant ids; ~40
  actors; JSONB payloads of the sizes real events have), over 90 days; then ANALYZE.
  Each query runs `--queries` times with random parameters drawn from the data,
  alternating with the same query as hand-written SQL through bare psycopg, each on
  one open connection (checkout and pool pre-ping left out) and in a transaction of
  its own, which for the functions begins as the API's and CLI's do (the read tables'
  shared lock; each statement planned for its values), after a warm-up: `plan show`
  of the big plan (its row, and its first 100 tasks by position) and the audit
  trail's shapes (newest, by task, tenant, plan, actor, type, one aggregate's type
  such as `Plan.Created`, an hour's window, a page deep in the log). Targets: plan
  show < 100 ms, audit p99 < 20 ms.

    python bench/read_bench.py                 # the full run
    python bench/read_bench.py --quick         # a smoke run on small figures

Uses DATABASE_URL if set, else a throwaway embedded PostgreSQL; KAFKA_BOOTSTRAP_SERVERS
if set, else a throwaway embedded (memory-only) tansu broker.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, LiteralString

import orjson
import psycopg
from psycopg import sql
from relay_bench import (
    WAIT_SECONDS,
    Timing,
    broker,
    create_topics,
    percentile,
    plan_request,
    running_relay,
    timed_relay,
    write_paced,
)
from scheduler_bench import fresh_database, server

POLL_SECONDS = 0.005
"""How often the watcher reads the new audit rows while timing the lag."""

SAVE_TASKS = 250
"""Tasks the played worker saves in one transaction while writing the backlog."""

STAGES = ("ConfigUpdate", "Broadcast", "HealthCheck")
"""The default recipe's stages, as the generated tasks run them."""

PAGE = 100
"""The page size of every timed query."""

STAGES_RUN = {"RUNNING": 2, "FAILED": 2}
"""Stages begun by a task that ends so (it fails in, or is still running, its second)."""


# -- projector throughput and lag ------------------------------------------------------


def write_runs(app: Any, events: int, tenants: int) -> int:
    """Create plans of `tenants` tenants, each task run to completion, until `events` are
    stored; the last id."""
    last, plan = app.recorder.max_notification_id() or 0, 0
    while last < events:
        created = app.create_plan(plan_request(f"runs{plan:04d}", tenants), "cli:bench")
        run_to_completion(app, list(created.task_ids))
        last = app.recorder.max_notification_id() or 0
        plan += 1
    return last


def run_to_completion(app: Any, task_ids: list[uuid.UUID]) -> None:
    """Play a worker on each task: claim it, run every stage, complete it; saved in groups."""
    now = datetime.now(UTC)
    for first in range(0, len(task_ids), SAVE_TASKS):
        tasks = [app.get_task(task_id) for task_id in task_ids[first : first + SAVE_TASKS]]
        for task in tasks:
            task.claim("bench-worker", 1, now)
            while (index := task.next_stage) is not None:
                task.begin_stage(1)
                result = {"previous": {"version": "2.4.0", "keys": ["version", "planId"]}}
                task.complete_stage(index, result, 1, now)
        app.save(*tasks)


def empty_read_tables(url: str) -> None:
    """Truncate every read table, the projector's positions included."""
    from switchyard.projections.tables import read_metadata

    names = [sql.Identifier(table.name) for table in read_metadata.sorted_tables]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(names)))


@contextmanager
def running_projector(url: str, config: Any) -> Iterator[tuple[Any, Any]]:
    """A projector in a container of its own, in a thread; it and its read engine."""
    from switchyard.adapters.bootstrap import container
    from switchyard.adapters.settings import Settings

    with container(Settings(database_url=url)) as parts:
        projector = parts.projector(config)
        parts.in_thread("projector", projector.run, join_seconds=60)
        yield projector, parts.read_engine()


def wait_applied(projector: Any, count: int, timeout: float) -> float:
    """Poll the projector's applied count until it reaches `count`; the monotonic time."""
    deadline = time.monotonic() + timeout
    while projector.applied < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"the projector stalled at {projector.applied} of {count}")
        time.sleep(WAIT_SECONDS)
    return time.monotonic()


def timed_projector(projector: Any, started: float, total: int, timeout: float) -> Timing:
    """Time the projector applying `total` events: its first applied batch, then the rest."""
    first_at = wait_applied(projector, 1, timeout)
    first = projector.applied
    done_at = wait_applied(projector, total, timeout)
    return Timing(first_at - started, total - first, done_at - first_at)


class Watcher:
    """Notes when each event's audit row first appears (see the module's docstring)."""

    def __init__(self, url: str, after: int) -> None:
        self.seen: dict[int, float] = {}
        self.floor = after
        self._url = url
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="watcher")

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _watch(self) -> None:
        query = "SELECT sequence FROM switchyard_read_audit WHERE sequence > %s"
        with psycopg.connect(self._url, autocommit=True) as conn:
            while not self._done.is_set():
                rows = conn.execute(query, (self.floor,)).fetchall()
                now = time.monotonic()
                for (sequence,) in rows:
                    self.seen.setdefault(sequence, now)
                while self.floor + 1 in self.seen:
                    self.floor += 1
                time.sleep(POLL_SECONDS)

    def wait_for(self, sequence: int, timeout: float) -> None:
        """Wait until every event up to `sequence` has been seen."""
        deadline = time.monotonic() + timeout
        while self.floor < sequence:
            if time.monotonic() > deadline:
                raise SystemExit(f"the read tables stalled at {self.floor} of {sequence}")
            time.sleep(0.01)


@contextmanager
def role_processes(
    url: str, servers: str, topic: str, group: str, partitions: int
) -> Iterator[None]:
    """`switchyard relay` and `switchyard projector` in processes of their own on the round's
    database, topic and group (each continues from its stored position), stopped on exit."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "KAFKA_BOOTSTRAP_SERVERS": servers,
        "SWITCHYARD_KAFKA_TOPIC": topic,
        "SWITCHYARD_KAFKA_PARTITIONS": str(partitions),
        "SWITCHYARD_PROJECTOR_GROUP": group,
    }
    with tempfile.TemporaryDirectory(prefix="read-bench-") as data:
        env["SWITCHYARD_DATA_DIR"] = data
        command = [sys.executable, "-c", "from switchyard.adapters.cli.main import run; run()"]
        out = Path(data, "roles.out")
        with out.open("wb") as output:
            roles = [
                subprocess.Popen([*command, role], env=env, stdout=output, stderr=output)
                for role in ("relay", "projector")
            ]
        try:
            yield
        except BaseException:
            print(out.read_text(errors="replace")[-4000:])
            raise
        finally:
            for role in roles:
                role.send_signal(signal.SIGINT)
            for role in roles:
                role.wait(60)


def lags_ms(app: Any, url: str, args: argparse.Namespace) -> tuple[list[float], float]:
    """Commit-to-applied lags (ms) of events written at `args.rate`, once a first plan has gone
    through the relay and projector processes; and the rate achieved."""
    with Watcher(url, app.recorder.max_notification_id() or 0) as watcher:
        app.create_plan(plan_request("probe", args.load_tenants), "cli:bench")
        watcher.wait_for(app.recorder.max_notification_id() or 0, timeout=120)
        started = time.monotonic()
        commits = write_paced(app, args.load_tenants, args.rate, args.seconds)
        achieved = len(commits) / (time.monotonic() - started)
        watcher.wait_for(max(commits), timeout=60)
    return [(watcher.seen[i] - t) * 1000 for i, t in commits.items()], achieved


@dataclass
class ProjectorFigures:
    """What the first part measured."""

    events: int = 0
    relay: list[Timing] = field(default_factory=list)
    projector: list[Timing] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)
    achieved: float = 0.0


def projector_part(args: argparse.Namespace, base_url: str, servers: str) -> ProjectorFigures:
    """Store the backlog; per round, time the relay publishing it and the projector applying it;
    in the last round, the lag at a steady load."""
    from switchyard.adapters.bootstrap import bootstrap
    from switchyard.adapters.settings import Settings

    url = fresh_database(base_url)
    app = bootstrap(Settings(database_url=url).with_loopback())  # endpoints on 127.0.0.1
    figures = ProjectorFigures()
    try:
        started = time.monotonic()
        figures.events = write_runs(app, args.events, args.plan_tenants)
        print(
            f"events stored            {figures.events:8d}  in {time.monotonic() - started:.1f} s"
        )
        suffix = uuid.uuid4().hex[:8]
        for round_ in range(args.rounds):
            last = round_ == args.rounds - 1
            projector_round(args, app, url, servers, f"{suffix}.{round_}", figures, last)
            print(
                f"round {round_ + 1}: relay {figures.relay[-1].rate:.0f} events/s, "
                f"projector {figures.projector[-1].rate:.0f} events/s "
                f"(start-up {figures.projector[-1].startup:.2f} s)",
                flush=True,
            )
    finally:
        app.close()
    return figures


def projector_round(
    args: argparse.Namespace,
    app: Any,
    url: str,
    servers: str,
    name: str,
    figures: ProjectorFigures,
    last: bool,
) -> None:
    """One round on a fresh topic: the relay, then the projector; the lag if `last`."""
    from switchyard.adapters.postgres.freshness import wait_for
    from switchyard.adapters.projector.config import ProjectorConfig
    from switchyard.adapters.relay.config import RelayConfig

    topic = f"switchyard.bench.read.{name}"
    create_topics(servers, [topic], args.partitions)
    relay_config = RelayConfig(bootstrap_servers=servers, topic=topic, partitions=args.partitions)
    config = ProjectorConfig(
        bootstrap_servers=servers, topic=topic, group=f"bench-{name}", partitions=args.partitions
    )
    with running_relay(url, relay_config) as relay:
        figures.relay.append(timed_relay(relay, time.monotonic(), figures.events, args.timeout))
        empty_read_tables(url)
        with running_projector(url, config) as (projector, engine):
            timing = timed_projector(projector, time.monotonic(), figures.events, args.timeout)
            figures.projector.append(timing)
            if not wait_for(engine, topic, figures.events, 30).fresh:
                raise SystemExit("the read tables do not reflect the last event")
    if last:  # the relay and the projector as `switchyard relay` and `projector` run them
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
            conn.execute("CHECKPOINT")
        with role_processes(url, servers, topic, f"bench-{name}-roles", args.partitions):
            figures.lags, figures.achieved = lags_ms(app, url, args)


# -- generated read tables ---------------------------------------------------------------

TASK_STAGES = [
    {
        "name": name,
        "steps": [
            {
                "kind": kind,
                "params": params,
                "retry": {"maxAttempts": 4, "exponential": {"base": 0.5, "max": 5.0}},
            }
        ],
    }
    for name, kind, params in (
        ("ConfigUpdate", "redis-write", {"key": "switchyard:route:{tenant_id}"}),
        ("Broadcast", "redis-publish", {"channel": "switchyard:route-updates"}),
        ("HealthCheck", "health-check", {"path": "/health", "versionKey": "version"}),
    )
]
"""A task's stages as its Created event carries them."""


@dataclass
class Generated:
    """The generated read rows' ids and times: what the timed queries draw parameters from."""

    big_plan: str = ""
    plans: list[str] = field(default_factory=list)
    tenants: list[str] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    actors: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    first_time: datetime = datetime(2025, 1, 1, tzinfo=UTC)
    last_time: datetime = datetime(2025, 1, 1, tzinfo=UTC)
    sequence: int = 0


class Log:
    """Writes audit rows in log order through a COPY: each event a later sequence and time."""

    def __init__(self, copy: Any, rng: random.Random, rows: int, made: Generated) -> None:
        self._copy = copy
        self.rng = rng
        self.rows = rows
        self.made = made
        self.time = made.first_time
        self.versions: dict[str, int] = {}

    def event(
        self, kind: str, aggregate: str, name: str, payload: Mapping[str, Any], **context: Any
    ) -> None:
        """One event of `aggregate` (at its next version), unless the rows are all written."""
        if self.made.sequence >= self.rows:
            return
        self.made.sequence += 1
        self.time += timedelta(milliseconds=self.rng.randint(5, 120))
        version = self.versions[aggregate] = self.versions.get(aggregate, 0) + 1
        actor = context.get("actor")
        trace = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01" if actor else None
        self._copy.write_row(
            (
                self.made.sequence,
                self.time,
                actor,
                kind,
                aggregate,
                version,
                name,
                context.get("tenant"),
                context.get("plan"),
                trace,
                orjson.dumps(payload).decode(),
            )
        )


def task_events(log: Log, task: dict[str, Any], outcome: str) -> None:
    """A task's run after its creation, to `outcome` (COMPLETED, FAILED, RUNNING, ...)."""
    tid, fence = task["task_id"], log.made.sequence + 1
    ctx = {"tenant": task["tenant_id"], "plan": task["plan_id"]}

    def event(name: str, payload: Mapping[str, Any], actor: str | None = None) -> None:
        log.event("Task", tid, name, payload, actor=actor, **ctx)

    if outcome == "PAUSED_ONCE":
        event("PauseRequested", {"actor": task["actor"], "reason": "freeze"}, task["actor"])
        event("Paused", {"last_stage": None})
        event("Resumed", {"actor": task["actor"], "reason": "go"}, task["actor"])
    task["started_at"] = log.time
    owner = f"scheduler-{fence % 7}:{4000 + fence % 97}"
    event("Started", {"owner": owner, "fence": fence, "attempt": 1, "total_stages": 3})
    for index, name in enumerate(STAGES[: STAGES_RUN.get(outcome, 3)]):
        event("StageStarted", {"index": index, "stage_name": name, "fence": fence})
        if outcome == "FAILED" and index == 1:
            failure = {"type": "io", "message": "redis: connection reset by peer", "details": {}}
            event("StageFailed", {"index": index, "stage_name": name, "failure": failure})
            event("Failed", {"failure": failure, "failed_stage": name})
            task["finished_at"] = log.time
            return
        if outcome != "RUNNING" or index == 0:
            done = {"index": index, "name": name, "result": stage_result(name, task)}
            event("StageCompleted", {"outcome": done, "fence": fence})
    if outcome != "RUNNING":
        event("Completed", {"duration_millis": 41_250, "completed_stages": list(STAGES)})
        task["finished_at"] = log.time


def stage_result(name: str, task: dict[str, Any]) -> dict[str, Any]:
    """What a stage of the default recipe records as its result."""
    if name == "HealthCheck":
        reports = [
            {
                "instance": f"10.0.{i}.7:8080",
                "version": task["target_version"],
                "at": "2025-03-01T10:00:00+00:00",
                "matched": True,
                "reason": None,
            }
            for i in range(2)
        ]
        return {"reports": reports}
    return {"previous": {"version": "2.4.0", "planId": task["plan_id"], "taskId": task["task_id"]}}


def outcome_of(position: int, size: int, running: bool, rng: random.Random) -> str:
    """How a task of a finished plan (or of the running big plan, by its position) ends."""
    if running and position >= size * 0.6:
        return "RUNNING" if position < size * 0.6 + 50 else "QUEUED"
    draw = rng.random()
    return "FAILED" if draw < 0.02 else "PAUSED_ONCE" if draw < 0.03 else "COMPLETED"


def write_plan(log: Log, tenants: list[str], actor: str, running: bool) -> list[dict[str, Any]]:
    """A plan's events (its creation's save, then its tasks' runs); its tasks as dicts."""
    plan_id, at = str(uuid.uuid4()), log.time
    tasks: list[dict[str, Any]] = [
        {"task_id": str(uuid.uuid4()), "plan_id": plan_id, "tenant_id": tenant, "position": i}
        | {"actor": actor, "target_version": "2.5.0", "created_at": at}
        for i, tenant in enumerate(tenants)
    ]
    created = {"name": f"rollout-{plan_id[:8]}", "max_concurrency": 50, "actor": actor}
    ids = {"task_ids": [t["task_id"] for t in tasks], "tenant_ids": tenants}
    log.event("Plan", plan_id, "Created", created | ids, plan=plan_id, actor=actor)
    for task in tasks:
        ctx = {"tenant": task["tenant_id"], "plan": plan_id, "actor": actor}
        payload = {"plan_id": plan_id, "tenant_id": task["tenant_id"], "position": task["position"]}
        payload |= {"service_type": "blue-green-gateway", "target_version": "2.5.0"}
        log.event("Task", task["task_id"], "Created", payload | {"stages": TASK_STAGES}, **ctx)
        log.event("Task", task["task_id"], "Queued", {"actor": actor}, **ctx)
        tenant = str(uuid.uuid5(uuid.NAMESPACE_URL, task["tenant_id"]))
        if tenant not in log.versions:
            log.event("TenantTasks", tenant, "Registered", {"tenant_id": task["tenant_id"]}, **ctx)
        assigned = {"task_id": task["task_id"], "plan_id": plan_id}
        log.event("TenantTasks", tenant, "TaskAssigned", assigned, **ctx)
    for task in tasks:
        task["outcome"] = outcome_of(task["position"], len(tasks), running, log.rng)
        if task["outcome"] != "QUEUED":
            task_events(log, task, task["outcome"])
    return tasks


def task_row(task: dict[str, Any]) -> tuple[Any, ...]:
    """The task's row in switchyard_read_tasks (TASK_COLUMNS' order)."""
    outcome = task["outcome"]
    status = "COMPLETED" if outcome == "PAUSED_ONCE" else outcome
    done = {"COMPLETED": 3, "FAILED": 1, "RUNNING": 1, "QUEUED": 0}[status]
    running, failed = status == "RUNNING", status == "FAILED"
    return (
        *(task[key] for key in ("task_id", "plan_id", "tenant_id", "position")),
        "blue-green-gateway",
        task["target_version"],
        status,
        "Broadcast" if running else None,
        done,
        3,
        False,
        False,
        1,
        "Broadcast" if failed else None,
        "redis: connection reset by peer" if failed else None,
        done > 0,
        "scheduler-1:4001" if running else None,
        1 if status != "QUEUED" else None,
        task["created_at"],
        task.get("started_at"),
        task.get("finished_at"),
        None,
    )


TASK_COLUMNS: LiteralString = (
    "task_id, plan_id, tenant_id, position, service_type, target_version, status, "
    "current_stage, completed_stages, total_stages, pause_requested, cancel_requested, "
    "attempt, failed_stage, failure_message, has_checkpoint, owner, fence, created_at, "
    "started_at, finished_at, waiting_for"
)
"""The columns of task_row's tuples."""

AUDIT_COLUMNS: LiteralString = (
    "sequence, time, actor, aggregate_type, aggregate_id, version, event_type, tenant_id, "
    "plan_id, traceparent, payload"
)
"""The audit table's columns, in Log's rows' order (and the raw queries')."""


def plan_row(tasks: list[dict[str, Any]], actor: str, running: bool) -> tuple[Any, ...]:
    """The plan's row in switchyard_read_plans, rolled up from its tasks."""
    statuses = [task_row(t)[6] for t in tasks]
    counts = {s: statuses.count(s) for s in sorted(set(statuses))}
    status = "RUNNING" if running else "PARTIALLY_FAILED" if "FAILED" in counts else "COMPLETED"
    finished = None if running else max(t["finished_at"] for t in tasks if "finished_at" in t)
    done = sum(task_row(t)[8] for t in tasks)
    first = tasks[0]
    return (
        *(first["plan_id"], f"rollout-{first['plan_id'][:8]}", status),
        orjson.dumps(counts).decode(),
        *(len(tasks), done, 3 * len(tasks), 50, actor, first["created_at"], finished),
    )


EVENTS_PER_TASK = (11.5, 8.5)
"""Audit rows per task of a finished plan and of the big plan (40% of it still queued)."""


def small_plan_size(args: argparse.Namespace) -> int:
    """Tasks per plan besides the big one, so the plans fill about `--audit-rows` rows."""
    finished, big = EVENTS_PER_TASK
    rest = max(0.0, args.audit_rows - args.tenants * big)
    return max(1, int(rest / finished / max(1, args.plans - 1)))


def fill_read_tables(url: str, args: argparse.Namespace) -> Generated:
    """Generate the plans, tasks, tenants and audit rows (see the module), COPY them, ANALYZE."""
    rng = random.Random(11)
    made = Generated(tenants=[f"tenant-{i:05d}" for i in range(args.tenants)])
    made.actors = [f"cli:sre{i:02d}" for i in range(38)] + ["api:deploy-bot", "api:release"]
    small = small_plan_size(args)
    plans, tasks = [], []
    with psycopg.connect(url) as conn:
        copy_sql = "COPY switchyard_read_audit (" + AUDIT_COLUMNS + ") FROM STDIN"
        with conn.cursor().copy(copy_sql) as copy:
            log = Log(copy, rng, args.audit_rows, made)
            for k in range(args.plans):
                log.time = max(log.time, made.first_time + timedelta(days=90) * k / args.plans)
                big = k == args.plans - 1  # the newest, still running
                names = made.tenants if big else rng.sample(made.tenants, min(small, args.tenants))
                actor = rng.choice(made.actors)
                written = write_plan(log, names, actor, big)
                plans.append(plan_row(written, actor, big))
                tasks += written
        made.plans, made.big_plan = [p[0] for p in plans], plans[-1][0]
        made.tasks, made.last_time = [t["task_id"] for t in tasks], log.time
        copy_rows(conn, "switchyard_read_plans", PLAN_COLUMNS, plans)
        copy_rows(conn, "switchyard_read_tasks", TASK_COLUMNS, [task_row(t) for t in tasks])
        copy_rows(conn, "switchyard_read_tenants", TENANT_COLUMNS, tenant_rows(tasks))
        conn.commit()
        conn.autocommit = True
        conn.execute("ANALYZE")
    return made


PLAN_COLUMNS = (
    "plan_id, name, status, task_counts, tasks_total, stages_done, stages_total, "
    "max_concurrency, created_by, created_at, finished_at"
)
"""The columns of plan_row's tuples."""

TENANT_COLUMNS = (
    "tenant_id, service_type, version, switched_by_task, latest_task, latest_task_status"
)
"""The columns of tenant_rows' tuples."""


def tenant_rows(tasks: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """A row per tenant: its latest task (tasks are in creation order) and last switch."""
    rows: dict[str, list[Any]] = {}
    for task in tasks:
        row = rows.setdefault(
            task["tenant_id"], [task["tenant_id"], "blue-green-gateway"] + [None] * 4
        )
        status = task_row(task)[6]
        row[4:6] = [task["task_id"], status]
        if status == "COMPLETED":
            row[2:4] = [task["target_version"], task["task_id"]]
    return [tuple(row) for row in rows.values()]


def copy_rows(conn: Any, table: str, columns: str, rows: list[tuple[Any, ...]]) -> None:
    """COPY the rows into the table."""
    with conn.cursor().copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


# -- timed queries ------------------------------------------------------------------------

SELECT_AUDIT: LiteralString = (
    "SELECT sequence, time, actor, aggregate_type, aggregate_id, version, event_type, "
    "tenant_id, plan_id, traceparent, "
    "CASE WHEN pg_column_size(payload) <= 4096 THEN payload END AS payload "
    "FROM switchyard_read_audit"
)
"""The audit table's rows as a page selects them: a payload over PAGE_PAYLOAD_BYTES left out."""

NEWEST: LiteralString = " ORDER BY sequence DESC LIMIT 100"
"""The raw audit queries' order and page."""


@dataclass(frozen=True)
class Shape:
    """One timed query: the function, the same as hand-written SQL, and its parameters."""

    function: Callable[[Any, dict[str, Any]], object]
    raw: tuple[LiteralString, ...]
    params: Callable[[], dict[str, Any]]


def plan_show(conn: Any, params: dict[str, Any]) -> object:
    """`plan show`'s reads: the plan's row (`queries.get_plan`) and its first page of tasks
    by position (SQLAlchemy Core: the page's query function has not landed yet)."""
    from sqlalchemy import select

    from switchyard.projections.queries import get_plan
    from switchyard.projections.tables import tasks

    plan_id = params["plan"]
    page = select(tasks).where(tasks.c.plan_id == plan_id).order_by(tasks.c.position).limit(PAGE)
    return get_plan(conn, plan_id), conn.execute(page).all()


def audit_query(conn: Any, params: dict[str, Any]) -> object:
    """The audit trail's query (`projections.queries.audit`), newest first, a page."""
    from switchyard.projections.queries import audit

    return audit(conn, limit=PAGE, **params)


def shapes(made: Generated, rng: random.Random) -> dict[str, Shape]:
    """The timed queries, each drawing its parameters from the generated data."""
    types = ["Created", "Queued", "Started", "StageStarted", "StageCompleted", "Completed"]
    types += ["StageFailed", "Failed", "PauseRequested", "Resumed", "TaskAssigned"]
    kinds = ["Plan.Created", "Task.Created", "Task.Failed", "TenantTasks.Registered"]
    span = (made.last_time - made.first_time).total_seconds() - 3600

    def window() -> dict[str, Any]:
        since = made.first_time + timedelta(seconds=rng.uniform(0, span))
        return {"since": since, "until": since + timedelta(hours=1)}

    def kind() -> dict[str, Any]:
        type = rng.choice(kinds)
        aggregate_type, _, event_type = type.partition(".")
        return {"type": type, "aggregate_type": aggregate_type, "event_type": event_type}

    return {
        "plan show (50k plan)": Shape(
            plan_show,
            (
                "SELECT plan_id, name, status, task_counts, tasks_total, stages_done, "
                "stages_total, max_concurrency, created_by, created_at, finished_at "
                "FROM switchyard_read_plans WHERE plan_id = %(plan)s",
                "SELECT "
                + TASK_COLUMNS
                + " FROM switchyard_read_tasks WHERE plan_id = %(plan)s"
                + " ORDER BY position LIMIT 100",
            ),
            lambda: {"plan": made.big_plan},
        ),
        "audit newest": Shape(audit_query, (SELECT_AUDIT + NEWEST,), dict),
        "audit by task": Shape(
            audit_query,
            (SELECT_AUDIT + " WHERE aggregate_id = %(task)s" + NEWEST,),
            lambda: {"task": rng.choice(made.tasks)},
        ),
        "audit by tenant": Shape(
            audit_query,
            (SELECT_AUDIT + " WHERE tenant_id = %(tenant)s" + NEWEST,),
            lambda: {"tenant": rng.choice(made.tenants)},
        ),
        "audit by plan": Shape(
            audit_query,
            (SELECT_AUDIT + " WHERE plan_id = %(plan)s" + NEWEST,),
            lambda: {"plan": rng.choice(made.plans)},
        ),
        "audit by actor": Shape(
            audit_query,
            (SELECT_AUDIT + " WHERE actor = %(actor)s" + NEWEST,),
            lambda: {"actor": rng.choice(made.actors)},
        ),
        "audit by type": Shape(
            audit_query,
            (SELECT_AUDIT + " WHERE event_type = %(type)s" + NEWEST,),
            lambda: {"type": rng.choice(types)},
        ),
        "audit by one aggregate's type": Shape(
            lambda conn, params: audit_query(conn, {"type": params["type"]}),
            (
                SELECT_AUDIT
                + " WHERE aggregate_type = %(aggregate_type)s AND event_type = %(event_type)s"
                + NEWEST,
            ),
            kind,
        ),
        "audit an hour's window": Shape(
            audit_query,
            (SELECT_AUDIT + " WHERE time >= %(since)s AND time < %(until)s" + NEWEST,),
            window,
        ),
        "audit a page deep": Shape(
            audit_query,
            (SELECT_AUDIT + " WHERE sequence < %(after)s" + NEWEST,),
            lambda: {"after": rng.randint(1, made.sequence)},
        ),
    }


@dataclass
class Series:
    """One shape's timings (ms): through its function and as raw SQL, in the same run."""

    function: list[float] = field(default_factory=list)
    raw: list[float] = field(default_factory=list)


def timed_pairs(conn: Any, raw: Any, shape: Shape, count: int, seconds: float) -> Series:
    """Run the shape `count` times each way, alternating which goes first, after a warm-up;
    fewer if `seconds` run out."""
    from switchyard.adapters.postgres.read_store import begin_reading

    series = Series()
    deadline = time.monotonic() + seconds

    def through_function(params: dict[str, Any]) -> None:
        with conn.begin():
            begin_reading(conn)  # as `read_store.reading` begins each query's transaction
            shape.function(conn, params)

    def as_raw(params: dict[str, Any]) -> None:
        with raw.transaction():
            for statement in shape.raw:
                raw.execute(statement, params).fetchall()

    for i in range(WARM_UP + count):
        params = shape.params()
        pair = [(series.function, through_function), (series.raw, as_raw)]
        for times, call in pair if i % 2 else reversed(pair):
            started = time.perf_counter()
            call(params)
            if i >= WARM_UP:
                times.append((time.perf_counter() - started) * 1000)
        if time.monotonic() > deadline and i >= WARM_UP:
            break
    return series


WARM_UP = 5
"""Untimed runs of each shape first (caches, SQLAlchemy's compiled statements)."""


def query_part(args: argparse.Namespace, base_url: str) -> dict[str, Series]:
    """Fill a fresh database's read tables, then time each shape against its raw SQL."""
    from switchyard.adapters.bootstrap import container
    from switchyard.adapters.settings import Settings

    url = fresh_database(base_url)
    with container(Settings(database_url=url)) as parts:  # migrates the fresh database
        started = time.monotonic()
        made = fill_read_tables(url, args)
        print(
            f"read rows generated      {made.sequence:8d} audit rows, {len(made.tasks)} tasks, "
            f"{len(made.plans)} plans, {len(made.tenants)} tenants "
            f"in {time.monotonic() - started:.1f} s",
            flush=True,
        )
        results = {}
        rng = random.Random(12)
        with parts.read_engine().connect() as conn, psycopg.connect(url, autocommit=True) as raw:
            for name, shape in shapes(made, rng).items():
                results[name] = timed_pairs(conn, raw, shape, args.queries, args.shape_seconds)
                print(f"{name}: {len(results[name].function)} runs each way", flush=True)
    return results


def print_projector(args: argparse.Namespace, figures: ProjectorFigures) -> None:
    """Print the first part's figures."""
    relay = statistics.median(t.rate for t in figures.relay)
    projector = statistics.median(t.rate for t in figures.projector)
    ratios = [p.rate / r.rate for p, r in zip(figures.projector, figures.relay, strict=True)]
    startup = statistics.median(t.startup for t in figures.projector)
    print(
        f"events={figures.events} plan_tenants={args.plan_tenants} partitions={args.partitions} "
        f"rounds={args.rounds}"
    )
    print(f"relay                    {relay:8.0f} events/s  (median of {len(figures.relay)})")
    print(
        f"projector                {projector:8.0f} events/s  (median of "
        f"{len(figures.projector)}, after its first batch; start-up {startup:.2f} s)"
    )
    met = "met" if projector / relay >= 0.5 else "MISSED"
    print(
        f"ratio projector/relay    {projector / relay:8.2f}  (per round "
        f"{min(ratios):.2f}-{max(ratios):.2f}; target >= 0.5: {met})"
    )
    lags = figures.lags
    print(
        f"steady load              {figures.achieved:8.0f} events/s for {args.seconds:g} s "
        f"(plans of {args.load_tenants} tenants)"
    )
    p99 = percentile(lags, 0.99)
    print(f"commit -> applied p50    {statistics.median(lags):8.1f} ms  ({len(lags)} events)")
    met = "met" if p99 < 200 else "MISSED"
    print(f"commit -> applied p99    {p99:8.1f} ms  (target < 200: {met})")
    print(f"commit -> applied max    {max(lags):8.1f} ms")


def print_queries(results: dict[str, Series]) -> None:
    """Print the query figures: each shape's p50 and p99 both ways, and the ratio."""
    print(f"{'query':28s} {'fn p50':>7s} {'fn p99':>7s} {'raw p50':>7s} {'raw p99':>7s} ratio")
    for name, series in results.items():
        fn, raw = series.function, series.raw
        print(
            f"{name:28s} {statistics.median(fn):7.2f} {percentile(fn, 0.99):7.2f} "
            f"{statistics.median(raw):7.2f} {percentile(raw, 0.99):7.2f} "
            f"{statistics.median(fn) / statistics.median(raw):5.2f}"
        )
    show = results["plan show (50k plan)"].function
    met = "met" if percentile(show, 0.99) < 100 else "MISSED"
    print(f"plan show p99 {percentile(show, 0.99):.2f} ms (target < 100 ms: {met})")
    audits = [s.function for name, s in results.items() if name.startswith("audit")]
    pooled = percentile([t for times in audits for t in times], 0.99)
    worst = max(percentile(times, 0.99) for times in audits)
    met = "met" if worst < 20 else "MISSED"
    print(
        f"audit p99 {pooled:.2f} ms over every shape, worst shape {worst:.2f} ms "
        f"(target < 20 ms: {met})"
    )


def run(args: argparse.Namespace) -> None:
    """Run the parts asked for and print their figures."""
    with server() as base_url, broker() as servers:
        figures = projector_part(args, base_url, servers) if "projector" in args.parts else None
        results = query_part(args, base_url) if "queries" in args.parts else None
    if figures is not None:
        print_projector(args, figures)
    if results is not None:
        print_queries(results)


QUICK = {
    "events": 6000,
    "plan_tenants": 200,
    "rounds": 1,
    "seconds": 3.0,
    "tenants": 2000,
    "audit_rows": 50_000,
    "plans": 20,
    "queries": 30,
}
"""--quick: a smoke run on small figures."""


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="preloaded on the topic")
    parser.add_argument("--plan-tenants", type=int, default=500, help="per plan of the backlog")
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument(
        "--rounds", type=int, default=1, help="relay and projector runs (medians); see ROUNDS"
    )
    parser.add_argument("--rate", type=float, default=500, help="events/s of the steady load")
    parser.add_argument("--seconds", type=float, default=10, help="of the steady load")
    parser.add_argument("--load-tenants", type=int, default=2, help="per plan of the steady load")
    parser.add_argument("--tenants", type=int, default=50_000, help="of the big plan")
    parser.add_argument("--plans", type=int, default=200, help="in the read tables")
    parser.add_argument("--audit-rows", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200, help="runs of each query, each way")
    parser.add_argument("--shape-seconds", type=float, default=10, help="at most, per query")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument(
        "--parts", default="projector,queries", help="comma-separated: projector, queries"
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: " + str(QUICK))
    if parser.parse_args().quick:  # its figures are defaults: flags given still win
        parser.set_defaults(**QUICK)
    run(parser.parse_args())


if __name__ == "__main__":
    main()
