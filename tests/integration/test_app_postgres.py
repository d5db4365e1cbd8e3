"""The application scenarios on a real PostgreSQL event store."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from tests.support.scenarios import AppScenarios
from tests.support.tenant_scenarios import TenantOrderScenarios


class TestAppPostgres(AppScenarios):
    """Every application scenario, on PostgreSQL (a fresh schema per test)."""

    env = None

    @pytest.fixture()
    def store_env(self, pg_env: dict[str, str]) -> Mapping[str, str]:
        """The session server's event store, on this test's own schema."""
        return pg_env


class TestTenantOrderPostgres(TenantOrderScenarios):
    """Every scenario of a tenant's tasks across plans, on PostgreSQL."""

    env = None

    @pytest.fixture()
    def store_env(self, pg_env: dict[str, str]) -> Mapping[str, str]:
        """The session server's event store, on this test's own schema."""
        return pg_env
