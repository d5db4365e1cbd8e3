"""The embedded servers die with the process that started them, even when it is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.waiting import wait_until

STARTER = """
import sys, time
from pathlib import Path
from switchyard.adapters.embedded.kafka import start_kafka
from switchyard.adapters.embedded.redis import start_redis
folder = Path(sys.argv[1])
servers = [start_redis(folder / "redis"), start_kafka(folder / "kafka")]
print(" ".join(str(server.process.pid) for server in servers), flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited; only its parent (now init) has not reaped it yet.
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux's")
def test_servers_stop_when_their_starter_is_killed(tmp_path: Path) -> None:
    command = [sys.executable, "-c", STARTER, str(tmp_path)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as starter:
        assert starter.stdout is not None
        pids = [int(pid) for pid in starter.stdout.readline().split()]
        assert len(pids) == 2 and all(_alive(pid) for pid in pids)
        starter.send_signal(signal.SIGKILL)

    wait_until(lambda: not any(_alive(pid) for pid in pids), 30, "redis and the broker gone")
