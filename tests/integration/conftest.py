"""Fixtures for integration tests that start scheduler processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import Schedulers


@pytest.fixture()
def schedulers(pg_env: dict[str, str], tmp_path: Path) -> Iterator[Schedulers]:
    """Scheduler processes for the test, killed at the end."""
    found = Schedulers(pg_env, tmp_path)
    yield found
    found.close()
