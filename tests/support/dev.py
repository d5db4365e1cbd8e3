"""`switchyard dev` in a subprocess on a fresh data folder, for tests that need the whole
service: every role and the HTTP API in one process."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.cli import CLI, fresh_env
from tests.support.waiting import wait_until


def demo_env(data_dir: Path) -> dict[str, str]:
    """The environment of a machine with nothing configured (no Redis either), but this data
    folder."""
    env = fresh_env(data_dir, COLUMNS="200")
    env.pop("REDIS_URL", None)
    return env


def processes_in(folder: Path) -> dict[int, str]:
    """Processes working in the folder or naming it (redis-server, postgres): pid, command."""
    found: dict[int, str] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cwd = str((proc / "cwd").readlink())
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone, or not ours to look at
            continue
        if cwd.startswith(str(folder)) or str(folder) in command:
            found[int(proc.name)] = command
    return found


START_SECONDS = 120
"""How long a first start (initdb, broker, Redis) may take on a busy machine."""


@dataclass
class Dev:
    """A running `switchyard dev`: its process, data folder and output file."""

    process: subprocess.Popen[bytes]
    data_dir: Path
    output: Path

    def printed(self) -> str:
        """What it printed so far (stdout and stderr)."""
        return self.output.read_text(errors="replace")

    def line(self, label: str) -> str | None:
        """The value of its `label: value` line, once printed."""
        found = re.search(rf"^{label}: (\S+)", self.printed(), re.M)
        return found.group(1) if found else None


@contextmanager
def running_dev(tmp_path: Path) -> Iterator[Dev]:
    """`switchyard dev --api-port 0` on embedded servers, started until it prints its API."""
    data_dir = tmp_path / "data"
    output = tmp_path / "dev.out"
    with output.open("wb") as out:
        process = subprocess.Popen(
            [CLI, "dev", "--api-port", "0"],
            env=demo_env(data_dir),
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    running = Dev(process, data_dir, output)
    try:
        wait_until(
            lambda: running.line("token") is not None or process.poll() is not None,
            START_SECONDS,
            "dev printing its API",
        )
        assert process.poll() is None, running.printed()
        yield running
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(60)
        down = [CLI, "db", "down"]
        subprocess.run(down, env=demo_env(data_dir), capture_output=True, check=False)
