"""`/healthz` (the process is up) and `/readyz` (it can serve: database reachable,
migrations applied, relay and projector not too far behind)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from switchyard.adapters.api.deps import Services
from switchyard.adapters.api.schemas import HealthOut
from switchyard.adapters.postgres.freshness import projector_status
from switchyard.adapters.postgres.migrate import VERSION_TABLE, head_revision

router = APIRouter(tags=["health"])

READY_LAG_EVENTS = 10_000
"""A relay or projector further behind than this many events makes the API not ready."""


@router.get("/healthz", response_model=HealthOut)
def healthz() -> HealthOut:
    """The process is up (no dependency is checked)."""
    return HealthOut(status="ok")


@router.get("/readyz", response_model=HealthOut, responses={503: {"model": HealthOut}})
def readyz(parts: Services) -> JSONResponse:
    """Ready when the database answers, its migrations are applied and the projector keeps up."""
    checks: dict[str, str] = {}
    try:
        with parts.store_engine.connect() as store, parts.read_engine.connect() as conn:
            revision = store.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
            status = projector_status(conn, parts.settings.kafka_topic, store)
        checks["database"] = "ok"
        checks["migrations"] = "ok" if revision == head_revision() else f"at {revision}"
        unpublished = (parts.app.recorder.max_notification_id() or 0) - status.relay_position
        checks["relay"] = (
            "ok" if unpublished <= READY_LAG_EVENTS else f"{unpublished} events unpublished"
        )
        behind = status.lag_events
        checks["projector"] = "ok" if behind <= READY_LAG_EVENTS else f"{behind} messages behind"
    except SQLAlchemyError as exc:
        checks["database"] = f"unavailable: {type(exc).__name__}"
    ready = all(value == "ok" for value in checks.values()) and "projector" in checks
    body = HealthOut(status="ready" if ready else "not ready", checks=checks)
    return JSONResponse(body.model_dump(by_alias=True), status_code=200 if ready else 503)
