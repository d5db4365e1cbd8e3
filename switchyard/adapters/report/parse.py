"""The plan report read back from its JSON (`report_data`'s shape, as the API answers it),
so a client renders the API's report as text or HTML exactly as from the read tables.

Derived figures (durations, retries, matched instances) are not read: the report's
own fields give them again.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from switchyard.domain.healthcheck import InstanceReport
from switchyard.projections.report import (
    PlanReport,
    StageRunReport,
    Steering,
    TenantReport,
    VersionComparison,
)


def report_from_data(data: Mapping[str, Any]) -> PlanReport:
    """The report `report_data` gave as this data; KeyError or ValueError if it is not one."""
    return PlanReport(
        plan_id=str(data["planId"]),
        name=data.get("name"),
        status=str(data["status"]),
        max_concurrency=data.get("maxConcurrency"),
        created_by=data.get("createdBy"),
        created_at=_time(data.get("createdAt")),
        finished_at=_time(data.get("finishedAt")),
        task_counts={str(k): int(v) for k, v in data["taskCounts"].items()},
        tenants=tuple(tenant_from_data(t) for t in data["tenants"]),
        comparison=tuple(comparison_from_data(c) for c in data["comparison"]),
        steering=tuple(steering_from_data(s) for s in data["steering"]),
    )


def tenant_from_data(data: Mapping[str, Any]) -> TenantReport:
    """One tenant's task from its data."""
    return TenantReport(
        tenant_id=str(data["tenantId"]),
        task_id=str(data["taskId"]),
        position=int(data["position"]),
        service_type=str(data["serviceType"]),
        target_version=str(data["targetVersion"]),
        result=str(data["result"]),
        version_before=data.get("versionBefore"),
        version_after=data.get("versionAfter"),
        started_at=_time(data.get("startedAt")),
        finished_at=_time(data.get("finishedAt")),
        attempts=int(data["attempts"]),
        stage_runs=tuple(run_from_data(r) for r in data["stageRuns"]),
        failures=tuple(str(f) for f in data["failures"]),
        steering=tuple(steering_from_data(s) for s in data["steering"]),
        evidence=tuple(InstanceReport.from_data(e) for e in data["evidence"]),
    )


def run_from_data(data: Mapping[str, Any]) -> StageRunReport:
    """One run of a stage from its data."""
    started = _time(data["startedAt"])
    if started is None:
        raise ValueError("a stage run without startedAt")
    return StageRunReport(
        stage_index=int(data["index"]),
        stage_name=str(data["stage"]),
        attempt=int(data["attempt"]),
        fence=int(data["fence"]),
        started_at=started,
        ended_at=_time(data.get("endedAt")),
        outcome=data.get("outcome"),
        failure_type=data.get("failureType"),
        failure_message=data.get("failureMessage"),
    )


def steering_from_data(data: Mapping[str, Any]) -> Steering:
    """One operator's command from its data."""
    time = _time(data["time"])
    if time is None:
        raise ValueError("a steering command without time")
    return Steering(
        time=time, actor=data.get("actor"), action=str(data["action"]), reason=data.get("reason")
    )


def comparison_from_data(data: Mapping[str, Any]) -> VersionComparison:
    """One target version asked, against what was observed, from its data."""
    return VersionComparison(
        version=str(data["version"]),
        tenants=int(data["tenants"]),
        results={str(k): int(v) for k, v in data["results"].items()},
        observed={str(k): int(v) for k, v in data["observed"].items()},
        without_evidence=int(data["withoutEvidence"]),
    )


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)
