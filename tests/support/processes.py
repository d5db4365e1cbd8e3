"""Scheduler processes for crash and shutdown tests, and what they left in the event store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from uuid import UUID

from switchyard.application.app import Switchyard
from tests.support.builders import probe_plan
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


class Schedulers:
    """Starts scheduler processes (`tests.support.child_scheduler`) on the test's store."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.env = env
        self.folder = folder
        self.log = folder / "stages.log"
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, slow: str = "", grace: float = 10.0) -> subprocess.Popen[bytes]:
        """Start a scheduler; `slow` ("Two:3") makes one stage sleep; `grace` bounds a stop."""
        env = {
            **os.environ,
            "SWITCHYARD_TEST_STORE_ENV": json.dumps(self.env),
            "SWITCHYARD_TEST_LOG": str(self.log),
            "SWITCHYARD_TEST_SLOW": slow,
            "SWITCHYARD_TEST_GRACE": str(grace),
        }
        with open(self.folder / f"scheduler-{len(self.started)}.out", "wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "tests.support.child_scheduler"],
                cwd=ROOT,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        self.started.append(process)
        return process

    def printed(self, process: subprocess.Popen[bytes]) -> str:
        """What one process printed (its log)."""
        index = self.started.index(process)
        return (self.folder / f"scheduler-{index}.out").read_text(errors="replace")

    def output(self) -> str:
        """What every process printed, for failure messages."""
        files = sorted(self.folder.glob("scheduler-*.out"))
        return "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')}" for path in files)

    def lines(self, process: subprocess.Popen[bytes]) -> list[str]:
        """The process's stage log lines, without the pid: 'enter|leave <stage> <fence>'."""
        text = self.log.read_text() if self.log.exists() else ""
        prefix = f"{process.pid} "
        return [line.removeprefix(prefix) for line in text.splitlines() if line.startswith(prefix)]

    def entered(self, process: subprocess.Popen[bytes], stage: str) -> bool:
        """Whether the process started running the stage."""
        return any(line.startswith(f"enter {stage} ") for line in self.lines(process))

    def wait_entered(self, process: subprocess.Popen[bytes], stage: str) -> None:
        """Poll the stage log until the process starts the stage; fail (unseen) after 30 s."""
        try:
            wait_until(lambda: self.entered(process, stage), 30, f"stage {stage}")
        except AssertionError as unseen:
            raise AssertionError(f"{unseen}; the schedulers printed:\n{self.output()}") from None

    def close(self) -> None:
        """Kill every process still running."""
        for process in self.started:
            if process.poll() is None:
                process.kill()
            process.wait(10)


def request() -> dict[str, Any]:
    """The plan the scheduler processes run: one probe task, of tenant acme."""
    return probe_plan("acme")


def completed(app: Switchyard, task_id: UUID) -> list[tuple[str, int]]:
    """Each StageCompleted event's stage and fence."""
    return [
        (e.outcome.name, e.fence)
        for e in app.events.get(task_id)
        if type(e).__name__ == "StageCompleted"
    ]


def started(app: Switchyard, task_id: UUID) -> list[str]:
    """Each StageStarted event's stage."""
    return [e.stage_name for e in app.events.get(task_id) if type(e).__name__ == "StageStarted"]
