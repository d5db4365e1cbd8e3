"""The relay's configuration: its topics, batching, pauses and producer settings."""

from __future__ import annotations

from dataclasses import dataclass

from switchyard.adapters.settings import Settings


@dataclass(frozen=True)
class RelayConfig:
    """Where the relay publishes and how it paces itself."""

    bootstrap_servers: str
    topic: str = "switchyard.events"
    heartbeat_topic: str = "switchyard.heartbeats"
    partitions: int = 3
    replication_factor: int = 1
    batch_size: int = 500
    poll_seconds: float = 1.0
    standby_seconds: float = 2.0
    max_backoff_seconds: float = 30.0
    topic_check_seconds: float = 5.0
    heartbeat_seconds: float = 2.0
    linger_ms: int = 5
    compression: str | None = None
    max_batch_bytes: int = 16_384
    request_timeout_ms: int = 30_000

    @classmethod
    def from_settings(cls, settings: Settings, bootstrap_servers: str) -> RelayConfig:
        """The relay's configuration from the settings, on the given broker."""
        return cls(
            bootstrap_servers=bootstrap_servers,
            topic=settings.kafka_topic,
            heartbeat_topic=settings.kafka_heartbeat_topic,
            partitions=settings.kafka_partitions,
            replication_factor=settings.kafka_replication_factor,
            batch_size=settings.relay_batch_size,
            poll_seconds=settings.relay_poll_seconds,
            standby_seconds=settings.relay_standby_seconds,
            max_backoff_seconds=settings.relay_max_backoff_seconds,
            topic_check_seconds=settings.relay_topic_check_seconds,
            heartbeat_seconds=settings.relay_heartbeat_seconds,
            linger_ms=settings.kafka_linger_ms,
            compression=None if (codec := settings.kafka_compression) == "none" else codec,
            max_batch_bytes=settings.kafka_max_batch_bytes,
            request_timeout_ms=settings.kafka_request_timeout_ms,
        )
