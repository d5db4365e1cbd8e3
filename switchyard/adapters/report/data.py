"""The plan report as JSON-ready data: the report's fields, times in ISO 8601, and the
figures derived from them (durations in seconds, retries, matched instances)."""

from __future__ import annotations

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


def report_data(report: PlanReport) -> dict[str, Any]:
    """The whole report as JSON-ready data."""
    return {
        "planId": report.plan_id,
        "name": report.name,
        "status": report.status,
        "maxConcurrency": report.max_concurrency,
        "createdBy": report.created_by,
        "createdAt": _time(report.created_at),
        "finishedAt": _time(report.finished_at),
        "taskCounts": dict(report.task_counts),
        "comparison": [comparison_data(c) for c in report.comparison],
        "steering": [steering_data(s) for s in report.steering],
        "tenants": [tenant_data(t) for t in report.tenants],
    }


def comparison_data(comparison: VersionComparison) -> dict[str, Any]:
    """One target version asked, against what its tenants' instances reported."""
    return {
        "version": comparison.version,
        "tenants": comparison.tenants,
        "results": dict(comparison.results),
        "observed": dict(comparison.observed),
        "instances": comparison.instances,
        "matched": comparison.matched,
        "withoutEvidence": comparison.without_evidence,
    }


def tenant_data(tenant: TenantReport) -> dict[str, Any]:
    """One tenant's task."""
    return {
        "tenantId": tenant.tenant_id,
        "taskId": tenant.task_id,
        "position": tenant.position,
        "serviceType": tenant.service_type,
        "targetVersion": tenant.target_version,
        "result": tenant.result,
        "versionBefore": tenant.version_before,
        "versionAfter": tenant.version_after,
        "startedAt": _time(tenant.started_at),
        "finishedAt": _time(tenant.finished_at),
        "seconds": tenant.seconds,
        "attempts": tenant.attempts,
        "retries": tenant.retries,
        "stageRuns": [run_data(r) for r in tenant.stage_runs],
        "failures": list(tenant.failures),
        "steering": [steering_data(s) for s in tenant.steering],
        "evidence": [evidence_data(r) for r in tenant.evidence],
    }


def run_data(run: StageRunReport) -> dict[str, Any]:
    """One run of a stage."""
    return {
        "stage": run.stage_name,
        "index": run.stage_index,
        "attempt": run.attempt,
        "fence": run.fence,
        "startedAt": _time(run.started_at),
        "endedAt": _time(run.ended_at),
        "seconds": run.seconds,
        "outcome": run.outcome,
        "failureType": run.failure_type,
        "failureMessage": run.failure_message,
    }


def steering_data(steering: Steering) -> dict[str, Any]:
    """One operator's command."""
    return {
        "time": _time(steering.time),
        "actor": steering.actor,
        "action": steering.action,
        "reason": steering.reason,
    }


def evidence_data(report: InstanceReport) -> dict[str, Any]:
    """What one instance reported at its last poll."""
    return report.to_data()


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
