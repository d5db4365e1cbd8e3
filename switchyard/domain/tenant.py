"""The TenantTasks aggregate: which tasks were ever planned for one tenant.

Its id is derived from the tenant id, so a tenant's commands and queries find
its tasks without a read model. Two plans created at once for one tenant meet
here, and optimistic concurrency orders them: the list is in the order the
plans were recorded, the order the tenant's tasks run in.
"""

from __future__ import annotations

from functools import lru_cache
from hashlib import sha1
from uuid import NAMESPACE_URL, UUID

from eventsourcing.domain import Aggregate, event


class TenantTasks(Aggregate):
    """The tasks planned for one tenant, oldest first."""

    @staticmethod
    def create_id(tenant_id: str) -> UUID:
        """Derive the aggregate id from the tenant id."""
        return tenant_tasks_id(tenant_id)

    @event("Registered")
    def __init__(self, tenant_id: str) -> None:
        """Record that a tenant got its first task: its task list starts."""
        self.tenant_id = tenant_id
        self.task_ids: tuple[UUID, ...] = ()

    @event("TaskAssigned")
    def assign(self, task_id: UUID, plan_id: UUID) -> None:
        """Record that a plan gave this tenant a new task."""
        self.task_ids = (*self.task_ids, task_id)


_NAME_PREFIX = NAMESPACE_URL.bytes + b"switchyard:tenant:"


@lru_cache(maxsize=4096)  # a plan asks twice per tenant, a chunk of tenants apart at most
def tenant_tasks_id(tenant_id: str) -> UUID:
    """The id of a tenant's TenantTasks aggregate: `uuid5(NAMESPACE_URL,
    f"switchyard:tenant:{tenant_id}")`, without rebuilding the namespace's bytes each time."""
    digest = sha1(_NAME_PREFIX + tenant_id.encode()).digest()
    return UUID(bytes=digest[:16], version=5)
