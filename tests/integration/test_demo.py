"""`switchyard demo` in a subprocess, on a fresh data folder with no server configured."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.cli import CLI, EXAMPLE
from tests.support.dev import demo_env, processes_in
from tests.support.waiting import wait_until


@pytest.fixture()
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """A fresh SWITCHYARD_DATA_DIR; whatever still runs in it is stopped at the end."""
    folder = tmp_path / "data"
    yield folder
    subprocess.run([CLI, "db", "down"], env=demo_env(folder), capture_output=True, check=False)
    for pid in processes_in(folder):
        os.kill(pid, signal.SIGTERM)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds leftover servers through /proc")
def test_the_demo_completes_every_tenant_of_the_example_and_leaves_nothing_running(
    data_dir: Path,
) -> None:
    done = subprocess.run(
        [CLI, "demo", "--plan", str(EXAMPLE)],
        env=demo_env(data_dir),
        cwd=data_dir.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    tenants = [tenant["tenantId"] for tenant in yaml.safe_load(EXAMPLE.read_text())["tenants"]]
    for tenant in tenants:
        assert re.search(rf"^\s*{re.escape(tenant)}\s+│\s+COMPLETED\s+│", done.stdout, re.M), (
            f"{tenant} not shown as COMPLETED:\n{done.stdout}"
        )
    wait_until(lambda: not processes_in(data_dir), 10, "the demo's servers stopping")


def test_the_demo_refuses_an_invalid_plan_before_starting_anything(
    data_dir: Path, tmp_path: Path
) -> None:
    plan = tmp_path / "bad.yaml"
    plan.write_text("tenants: [{tenantId: acme, serviceType: nope, targetVersion: '2'}]\n")
    done = subprocess.run(
        [CLI, "demo", "--plan", str(plan)],
        env=demo_env(data_dir),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "[plan.invalid]" in done.stderr
    assert not data_dir.exists(), "started servers for a plan it refuses"
