"""The application scenarios on the library's in-memory (POPO) persistence."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from tests.scenarios import AppScenarios


class TestAppInMemory(AppScenarios):
    """Every application scenario, on in-memory persistence."""

    env: ClassVar[Mapping[str, str] | None] = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
