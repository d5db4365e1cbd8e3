"""The API's JSON shapes for a tenant's answers beyond `schemas`: its checkpoint."""

from pydantic import Field

from switchyard.adapters.api.schemas import Camel


class CheckpointOut(Camel):
    """Whether the tenant's current task has a checkpoint a retry can start from."""

    tenant_id: str = Field(examples=["acme"])
    has_checkpoint: bool
    task_id: str = Field(description="The tenant's current task.")
