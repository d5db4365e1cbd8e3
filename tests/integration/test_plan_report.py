"""The plan report on real PostgreSQL, Redis and a simulated fleet: two plans run end to end,
their events applied to the read tables, then reported per tenant (result, runs, versions
before and after, retries and who steered, the health checks' evidence) and as asked
versus observed, in text, JSON and a self-contained HTML page."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import Engine

from switchyard.adapters.bootstrap import bootstrap
from switchyard.adapters.cli.report import read_report
from switchyard.adapters.demo.fleet import Fleet
from switchyard.adapters.relay.attribution import Attribution, first_events
from switchyard.adapters.report.data import report_data
from switchyard.adapters.report.html import render_html
from switchyard.adapters.report.text import summary_lines
from switchyard.adapters.settings import Settings
from switchyard.application.app import Switchyard
from switchyard.domain.errors import PlanNotFound
from switchyard.domain.status import TaskStatus
from switchyard.projections.apply import apply_events
from switchyard.projections.events import from_message
from switchyard.projections.report import PlanReport, TenantReport, plan_report
from tests.support.builders import plan_request, tenant
from tests.support.postgres import schema_engine
from tests.support.schedulers import running_scheduler
from tests.support.waiting import wait_until

FAST_HEALTH = {"interval": "10ms", "maxAttempts": 5}


@dataclass(frozen=True)
class Ran:
    """The scenario's second plan and the fleet's instances of each tenant."""

    plan_id: str
    endpoints: dict[str, list[str]]


@pytest.fixture()
def app(pg_env: dict[str, str]) -> Iterator[Switchyard]:
    """An application with the built-in service types."""
    application = bootstrap(Settings(database_url=None).with_loopback(), env=pg_env)
    yield application
    application.close()


@pytest.fixture()
def engine(app: Switchyard, database_url: str, pg_env: dict[str, str]) -> Iterator[Engine]:
    """An engine on the application's schema (its read tables made by the migrations)."""
    made = schema_engine(database_url, pg_env["POSTGRES_SCHEMA"])
    yield made
    made.dispose()


def on_fleet(name: str, version: str, fleet: Fleet, channel: str, **extra: Any) -> dict[str, Any]:
    """A tenant whose instances are in the fleet, switched to `version`."""
    return tenant(
        name,
        targetVersion=version,
        healthCheck=FAST_HEALTH,
        overrides={"channel": channel, "route_key": f"{channel}:route:{{tenant_id}}"},
        **extra,
    )


def project(app: Switchyard, engine: Engine) -> None:
    """Apply every stored event to the read tables, as the projector would."""
    stored = app.recorder.select_notifications(0, 10_000)
    attribution = Attribution(app.mapper.transcoder, first_events(app.recorder))
    events = [from_message(r.headers, r.value) for r in attribution.records(stored)]
    with engine.begin() as conn:
        apply_events(conn, events)


@pytest.fixture()
def ran(app: Switchyard, engine: Engine, fleet: Fleet, channel: str, executors: Any) -> Ran:
    """acme goes to 1.5.0, then (second plan) acme to 2.0.0 and globex, one instance stuck,
    fails its health check, is retried by cli:bob from the checkpoint and fails again."""
    endpoints = {"acme": fleet.add_tenant("acme"), "globex": fleet.add_tenant("globex", stuck=1)}
    first = app.create_plan(
        plan_request(on_fleet("acme", "1.5.0", fleet, channel, endpoints=endpoints["acme"])), "ci"
    )
    second = app.create_plan(
        plan_request(
            on_fleet("acme", "2.0.0", fleet, channel, endpoints=endpoints["acme"]),
            on_fleet("globex", "2.0.0", fleet, channel, endpoints=endpoints["globex"]),
            max_concurrency=2,
        ),
        "platform",
    )
    globex = second.task_ids[1]
    with running_scheduler(app, executors):
        for task_id in (first.task_ids[0], second.task_ids[0]):
            wait_until(lambda t=task_id: app.describe_task(t).status == TaskStatus.COMPLETED, 60)
        wait_until(lambda: app.describe_task(globex).status == TaskStatus.FAILED, 60)
        app.retry_task(globex, "cli:bob", from_checkpoint=True, reason="one more go")
        wait_until(lambda: app.describe_task(globex).attempt == 2, 10)
        wait_until(lambda: app.describe_task(globex).status == TaskStatus.FAILED, 60)
    project(app, engine)
    return Ran(str(second.plan_id), endpoints)


def by_tenant(report: PlanReport) -> dict[str, TenantReport]:
    """The report's tenants by id."""
    return {t.tenant_id: t for t in report.tenants}


def test_a_completed_tenant_shows_its_versions_runs_and_evidence(engine: Engine, ran: Ran) -> None:
    with engine.connect() as conn:
        report = plan_report(conn, ran.plan_id)
    assert report is not None and report.status == "PARTIALLY_FAILED"
    assert [t.tenant_id for t in report.tenants] == ["acme", "globex"]
    acme = by_tenant(report)["acme"]
    assert (acme.result, acme.version_before, acme.version_after) == ("COMPLETED", "1.5.0", "2.0.0")
    assert [r.stage_name for r in acme.stage_runs] == ["ConfigUpdate", "Broadcast", "HealthCheck"]
    assert all(r.outcome == "COMPLETED" and (r.seconds or 0) >= 0 for r in acme.stage_runs)
    assert acme.seconds is not None and acme.seconds > 0 and acme.retries == 0
    assert [(r.instance, r.version, r.matched) for r in acme.evidence] == [
        (instance, "2.0.0", True) for instance in ran.endpoints["acme"]
    ]
    assert all(
        r.checked_at is not None and r.checked_at.utcoffset() is not None for r in acme.evidence
    )


def test_a_failed_tenant_shows_its_failures_retry_and_what_its_instances_reported(
    engine: Engine, ran: Ran
) -> None:
    with engine.connect() as conn:
        report = plan_report(conn, ran.plan_id)
    assert report is not None
    globex = by_tenant(report)["globex"]
    assert (globex.result, globex.version_before, globex.version_after) == ("FAILED", None, None)
    assert globex.retries == 1
    assert len(globex.failures) == 2 and all(f.startswith("HealthCheck: ") for f in globex.failures)
    assert [r.stage_name for r in globex.stage_runs][-1] == "HealthCheck"
    assert [r.attempt for r in globex.stage_runs][-1] == 2
    (retry,) = globex.steering
    assert (retry.actor, retry.action, retry.reason) == (
        "cli:bob",
        "RetryStarted (from checkpoint)",
        "one more go",
    )
    stuck, switched = ran.endpoints["globex"]
    seen = {r.instance: (r.version, r.matched) for r in globex.evidence}
    assert seen == {stuck: ("1.0.0", False), switched: ("2.0.0", True)}


def test_the_summary_compares_asked_with_observed(engine: Engine, ran: Ran) -> None:
    with engine.connect() as conn:
        report = plan_report(conn, ran.plan_id)
    assert report is not None
    (asked,) = report.comparison
    assert (asked.version, asked.tenants) == ("2.0.0", 2)
    assert asked.results == {"COMPLETED": 1, "FAILED": 1}
    assert asked.observed == {"2.0.0": 3, "1.0.0": 1}
    assert (asked.instances, asked.matched, asked.without_evidence) == (4, 3, 0)
    assert any("3/4 instances" in line for line in summary_lines(report))


def test_the_renderings_carry_the_report_and_the_page_loads_nothing(
    engine: Engine, ran: Ran
) -> None:
    with engine.connect() as conn:
        report = read_report(conn, ran.plan_id)
    data = json.loads(json.dumps(report_data(report)))
    assert [t["tenantId"] for t in data["tenants"]] == ["acme", "globex"]
    assert data["comparison"][0]["observed"] == {"2.0.0": 3, "1.0.0": 1}
    page = render_html(report, datetime.now(UTC))
    assert "<svg" in page and 'id="tenant-data"' in page
    assert page.count('class="t"') == 2
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "@import" not in page and "url(" not in page


def test_a_plan_the_read_tables_do_not_have_is_not_found(engine: Engine) -> None:
    with engine.connect() as conn, pytest.raises(PlanNotFound) as refused:
        read_report(conn, str(uuid4()))
    assert refused.value.code == "plan.not_found"
