"""The projector's configuration: which topic, which group, how much per batch."""

from __future__ import annotations

from dataclasses import dataclass

from switchyard.adapters.settings import Settings


@dataclass(frozen=True)
class ProjectorConfig:
    """Where the projector reads and how it paces itself."""

    bootstrap_servers: str
    topic: str = "switchyard.events"
    group: str = "switchyard-projector"
    partitions: int = 3
    replication_factor: int = 1
    max_batch: int = 1000
    poll_ms: int = 200
    fetch_wait_ms: int = 25
    retry_seconds: float = 1.0
    request_timeout_ms: int = 30_000

    @classmethod
    def from_settings(cls, settings: Settings, bootstrap_servers: str) -> ProjectorConfig:
        """The projector's configuration from the settings, on the given broker."""
        return cls(
            bootstrap_servers=bootstrap_servers,
            topic=settings.kafka_topic,
            group=settings.projector_group,
            partitions=settings.kafka_partitions,
            replication_factor=settings.kafka_replication_factor,
            max_batch=settings.projector_batch_size,
            fetch_wait_ms=settings.projector_fetch_wait_ms,
            request_timeout_ms=settings.kafka_request_timeout_ms,
        )
