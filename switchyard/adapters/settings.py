"""All of switchyard's settings, read from the environment (and `.env`) in one object."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated, Any, Literal

from aiokafka import codec
from pydantic import AliasChoices, Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from switchyard.adapters.api.tokens import TokenSetting
from switchyard.domain.errors import Problem, SettingsInvalid
from switchyard.domain.outbound import LOOPBACK, OutboundPolicy

_CODECS = {
    "gzip": codec.has_gzip,
    "snappy": codec.has_snappy,
    "lz4": codec.has_lz4,
    "zstd": codec.has_zstd,
}
"""Whether the package each Kafka compression needs is installed."""


def _default_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


class Settings(BaseSettings):
    """switchyard's settings; each is documented in the README's settings table."""

    model_config = SettingsConfigDict(env_prefix="SWITCHYARD_", env_file=".env", extra="ignore")

    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "SWITCHYARD_DATABASE_URL")
    )
    read_database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("READ_DATABASE_URL", "SWITCHYARD_READ_DATABASE_URL"),
    )
    data_dir: Path = Path(".switchyard")
    service_types_file: Path | None = None
    actor: str = Field(default_factory=_default_actor)
    conflict_retries: int = Field(default=5, ge=0)
    db_pool_size: int = Field(default=5, ge=1)
    db_connect_timeout: int = Field(default=5, ge=1)
    create_tables: bool = True
    group_commit_window_ms: float = Field(default=2.0, ge=0, le=1_000)
    group_commit_max_saves: int = Field(default=64, ge=1)
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("REDIS_URL", "SWITCHYARD_REDIS_URL")
    )
    workers: int = Field(default=16, ge=1)
    lease_seconds: float = Field(default=30.0, gt=0)
    heartbeat_seconds: float = Field(default=10.0, gt=0)
    poll_seconds: float = Field(default=1.0, gt=0)
    grace_seconds: float = Field(default=30.0, ge=0)
    call_timeout_seconds: float = Field(default=5.0, gt=0)
    health_interval: str | None = None
    health_max_attempts: int | None = Field(default=None, ge=1)
    health_path: str | None = None
    health_version_key: str | None = None
    breaker_failures: int = Field(default=5, ge=1)
    breaker_open_seconds: float = Field(default=30.0, gt=0)
    breaker_max_waits: int = Field(default=10, ge=0)
    webhook_url: str | None = None
    notify_limit: int = Field(default=10, ge=1)
    notify_window_seconds: float = Field(default=60.0, gt=0)
    kafka_bootstrap_servers: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "KAFKA_BOOTSTRAP_SERVERS", "SWITCHYARD_KAFKA_BOOTSTRAP_SERVERS"
        ),
    )
    kafka_topic: str = "switchyard.events"
    kafka_heartbeat_topic: str = "switchyard.heartbeats"
    kafka_partitions: int = Field(default=3, ge=1)
    kafka_replication_factor: int = Field(default=1, ge=1)
    kafka_linger_ms: int = Field(default=5, ge=0)
    kafka_compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = "none"
    kafka_max_batch_bytes: int = Field(default=16_384, ge=1_024)
    kafka_request_timeout_ms: int = Field(default=30_000, ge=1)
    relay_batch_size: int = Field(default=500, ge=1)
    relay_poll_seconds: float = Field(default=1.0, gt=0)
    relay_standby_seconds: float = Field(default=2.0, gt=0)
    relay_max_backoff_seconds: float = Field(default=30.0, gt=0)
    relay_topic_check_seconds: float = Field(default=5.0, gt=0)
    relay_heartbeat_seconds: float = Field(default=2.0, gt=0)
    projector_group: str = "switchyard-projector"
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8080, ge=0, le=65535)
    api_tokens: list[TokenSetting] = Field(default_factory=list)
    api_max_body_bytes: int = Field(default=1_048_576, ge=1_024)
    api_max_tenants: int = Field(default=50_000, ge=1)
    api_max_page: int = Field(default=1_000, ge=1)
    api_max_streams: int = Field(default=8, ge=1)
    api_sse_ping_seconds: float = Field(default=15.0, gt=0)
    api_sse_poll_seconds: float = Field(default=0.5, gt=0)
    api_idempotency_hours: float = Field(default=24.0, gt=0)
    projector_batch_size: int = Field(default=1000, ge=1)
    projector_fetch_wait_ms: int = Field(default=25, ge=0)
    read_wait_seconds: float = Field(default=10.0, ge=0)
    metrics_host: str = "127.0.0.1"
    scheduler_metrics_port: int = Field(default=9101, ge=0, le=65535)
    relay_metrics_port: int = Field(default=9102, ge=0, le=65535)
    projector_metrics_port: int = Field(default=9103, ge=0, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="INFO", validation_alias=AliasChoices("LOG_LEVEL", "SWITCHYARD_LOG_LEVEL")
    )
    log_format: Literal["auto", "console", "json"] = Field(
        default="auto", validation_alias=AliasChoices("LOG_FORMAT", "SWITCHYARD_LOG_FORMAT")
    )

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _any_case(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, str):
            return value
        return value.upper() if info.field_name == "log_level" else value.lower()

    outbound_allow: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        validation_alias=AliasChoices("OUTBOUND_ALLOW", "SWITCHYARD_OUTBOUND_ALLOW"),
    )

    @field_validator("outbound_allow", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(entry.strip() for entry in value.split(",") if entry.strip())
        return value

    @field_validator("outbound_allow")
    @classmethod
    def _allowable(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        OutboundPolicy.parse(value)  # refuses an entry that is no address, network or name
        return value

    @field_validator("kafka_compression")
    @classmethod
    def _codec_installed(cls, value: str) -> str:
        if value != "none" and not _CODECS[value]():
            raise ValueError(f"{value} compression needs its Python package installed")
        return value

    def health_check_layer(self) -> dict[str, Any]:
        """The application-level health-check settings, in plan-request spelling."""
        return {
            "interval": self.health_interval,
            "maxAttempts": self.health_max_attempts,
            "path": self.health_path,
            "versionKey": self.health_version_key,
        }

    def outbound_policy(self) -> OutboundPolicy:
        """The outbound policy: the built-in refusals, with OUTBOUND_ALLOW's exceptions."""
        return OutboundPolicy.parse(self.outbound_allow)

    def with_loopback(self) -> Settings:
        """These settings, allowing calls to the local machine too (127.0.0.1, ::1,
        localhost): for a simulated fleet, as `switchyard dev`, the demo and tests run."""
        allowed = tuple(dict.fromkeys((*self.outbound_allow, *LOOPBACK)))
        return self.model_copy(update={"outbound_allow": allowed})


def settings_invalid(error: ValidationError) -> SettingsInvalid:
    """The settings error, each problem named by the environment variable that caused it."""
    problems = []
    for found in error.errors():
        name = str(found["loc"][0]) if found["loc"] else ""
        variable = name if name.isupper() else f"SWITCHYARD_{name.upper()}"
        problems.append(Problem(variable, found["type"], found["msg"]))
    return SettingsInvalid(problems)
