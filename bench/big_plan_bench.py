"""Big-plan benchmark: create a plan of N tenants with the CLI, and time its first task's start.

Writes a plan file of N tenants (JSON), starts one scheduler on the database,
runs `switchyard plan create FILE --json` as its own process, and prints the
command's wall time and peak memory (its resident set's high-water mark), the
number of tasks recorded, and how long after the command returned the
scheduler started the plan's first task.

    python bench/big_plan_bench.py --tenants 50000

Uses DATABASE_URL if set, else a throwaway embedded PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from scheduler_bench import (
    ROOT,
    fresh_database,
    recipes_file,
    server,
    start_schedulers,
    wait_listening,
)


def plan_file(folder: Path, tenants: int, concurrency: int) -> Path:
    """A plan request of `tenants` tenants of the bench service type, as a JSON file."""
    path = folder / "big-plan.json"
    request = {
        "name": "big",
        "maxConcurrency": concurrency,
        "tenants": [
            {
                "tenantId": f"t{i:06d}",
                "serviceType": "bench",
                "targetVersion": "2",
                "endpoints": ["127.0.0.1:1"],
            }
            for i in range(tenants)
        ],
    }
    path.write_text(json.dumps(request))
    return path


def create_with_cli(url: str, recipes: Path, plan: Path) -> tuple[float, float, dict[str, object]]:
    """Run `switchyard plan create`; its seconds, peak RSS in MiB and its JSON answer."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SWITCHYARD_SERVICE_TYPES_FILE": str(recipes),
        "SWITCHYARD_OUTBOUND_ALLOW": "127.0.0.1",
    }
    command = [str(Path(sys.executable).parent / "switchyard"), "plan", "create", str(plan)]
    with tempfile.TemporaryFile() as errors:
        started = time.monotonic()
        process = subprocess.Popen(
            [*command, "--json"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=errors
        )
        assert process.stdout is not None
        answer = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)  # this child's own peak memory
        elapsed = time.monotonic() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            errors.seek(0)
            raise SystemExit(f"plan create failed: {errors.read().decode()[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024, json.loads(answer)


def first_start(url: str, deadline: float) -> float:
    """Wait until a scheduler holds a task of the plan; when (time.monotonic())."""
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM switchyard_queue_tasks WHERE fence IS NOT NULL"
            ).fetchone()
            if row is not None and row[0] > 0:
                return time.monotonic()
            time.sleep(0.005)
    raise SystemExit("no task started before the timeout")


def run(args: argparse.Namespace) -> None:
    """Run the benchmark and print its figures."""
    folder = Path(tempfile.mkdtemp(prefix="switchyard-big-plan-"))
    recipes = recipes_file(folder, args.stages)
    plan = plan_file(folder, args.tenants, args.concurrency)
    with server() as base_url:
        url = fresh_database(base_url)
        schedulers = start_schedulers(url, 1, recipes, args.concurrency)
        try:
            wait_listening(url, 1)
            elapsed, peak, answer = create_with_cli(url, recipes, plan)
            returned = time.monotonic()
            started = first_start(url, returned + args.timeout)
            with psycopg.connect(url, autocommit=True) as conn:
                row = conn.execute("SELECT count(*) FROM switchyard_queue_tasks").fetchone()
        finally:
            for process in schedulers:
                process.terminate()
            for process in schedulers:
                process.wait(30)
    task_ids = answer.get("taskIds")
    print(f"tenants={args.tenants} stages={args.stages} maxConcurrency={args.concurrency}")
    print(f"plan create (CLI)        {elapsed:8.2f} s")
    print(f"plan create peak RSS     {peak:8.1f} MiB")
    print(f"tasks in the answer      {len(task_ids) if isinstance(task_ids, list) else 0:8d}")
    print(f"tasks queued             {row[0] if row else 0:8d}")
    print(f"return -> first start    {started - returned:8.3f} s")


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=50_000)
    parser.add_argument("--stages", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=60)
    run(parser.parse_args())


if __name__ == "__main__":
    main()
