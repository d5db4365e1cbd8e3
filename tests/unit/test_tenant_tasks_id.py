"""A tenant's task list id never changes: recorded lists are found by it."""

from __future__ import annotations

from uuid import NAMESPACE_URL, uuid5

import pytest

from switchyard.domain.tenant import TenantTasks, tenant_tasks_id


@pytest.mark.parametrize("tenant_id", ["acme", "t00042", "tenant.eu-1:blue", "é" * 3])
def test_the_id_is_uuid5_of_the_tenants_name(tenant_id: str) -> None:
    expected = uuid5(NAMESPACE_URL, f"switchyard:tenant:{tenant_id}")
    assert tenant_tasks_id(tenant_id) == expected
    assert TenantTasks(tenant_id).id == expected
