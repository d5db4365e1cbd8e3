"""Running the real `switchyard` command in tests: where it is, the example plan, and the
environment of a machine with nothing configured."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from switchyard.domain.outbound import LOOPBACK

ROOT = Path(__file__).resolve().parents[2]
"""The repository."""

CLI = str(Path(sys.executable).parent / "switchyard")
"""The console script of the environment running the tests."""

EXAMPLE = ROOT / "examples" / "plan.yaml"
"""The README's example plan request."""

CLOSED_PORT_URL = "postgresql://postgres@127.0.0.1:1/postgres"
"""A DATABASE_URL nothing listens on: the store is unavailable."""


METRICS_ROLES = ("SCHEDULER", "RELAY", "PROJECTOR")
"""The roles with a metrics port: a free one each in tests, so parallel runs never collide."""


def fresh_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a machine with no database configured, but this data folder
    (metrics on free ports); calls to the local machine are allowed, as the example plan's
    instances are there."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "SWITCHYARD_"))}
    free_ports = {f"SWITCHYARD_{role}_METRICS_PORT": "0" for role in METRICS_ROLES}
    local = {"OUTBOUND_ALLOW": ",".join(LOOPBACK)}
    return {
        **env,
        "SWITCHYARD_DATA_DIR": str(data_dir),
        "COLUMNS": "250",
        "TERM": "dumb",
        **free_ports,
        **local,
        **extra,
    }
