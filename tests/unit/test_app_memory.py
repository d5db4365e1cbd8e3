"""The application scenarios on the library's in-memory (POPO) persistence."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from tests.support.scenarios import AppScenarios
from tests.support.tenant_scenarios import TenantOrderScenarios


class TestAppInMemory(AppScenarios):
    """Every application scenario, on in-memory persistence."""

    env: ClassVar[Mapping[str, str] | None] = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


class TestTenantOrderInMemory(TenantOrderScenarios):
    """Every scenario of a tenant's tasks across plans, on in-memory persistence."""

    env: ClassVar[Mapping[str, str] | None] = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
