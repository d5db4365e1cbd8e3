"""The composition root: builds the application from settings, or from what it is given.

Every dependency is a keyword argument; the real one is built only when none is
given. Nothing here runs at import time.
"""

from __future__ import annotations

from collections.abc import Mapping

from adapters import embedded_postgres
from adapters.persistence import event_store_env, store_errors
from adapters.recipes import load_recipes
from adapters.settings import Settings
from application.app import Switchyard
from domain.stage_factory import StageFactory


def database_url(settings: Settings, keep_running: bool = False) -> str:
    """The configured DATABASE_URL, or else the embedded server's (started if need be)."""
    if settings.database_url:
        return settings.database_url
    return embedded_postgres.ensure_running(settings.data_dir, keep_running=keep_running)


def build_stage_factory(settings: Settings) -> StageFactory:
    """The stage factory from the packaged recipes, the extra recipe file and settings."""
    return StageFactory(load_recipes(settings.service_types_file), settings.health_check_layer())


def bootstrap(
    settings: Settings | None = None,
    *,
    env: Mapping[str, str] | None = None,
    stage_factory: StageFactory | None = None,
) -> Switchyard:
    """Build the application; `env` overrides where events are stored (tests pass POPO)."""
    settings = settings or Settings()
    if env is None:
        env = event_store_env(
            database_url(settings),
            settings.db_pool_size,
            settings.db_connect_timeout,
            settings.create_tables,
        )
    factory = stage_factory or build_stage_factory(settings)
    with store_errors():
        return Switchyard(env, stage_factory=factory, conflict_retries=settings.conflict_retries)
