"""The plan report's renderings on a made-up report: what people type is escaped, the page
embeds its data safely, and 5,000 tenants make one row each in the table and the timeline."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from switchyard.adapters.report.html import render_html
from switchyard.adapters.report.text import SHOWN_TENANTS, summary_lines
from switchyard.domain.healthcheck import InstanceReport
from switchyard.projections.report import (
    PlanReport,
    StageRunReport,
    Steering,
    TenantReport,
    compare,
)

START = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def tenant(n: int, result: str = "COMPLETED", tenant_id: str | None = None) -> TenantReport:
    """A tenant whose one stage ran for a second, its instance on 2.5.0 unless it failed."""
    began = START + timedelta(seconds=n)
    run = StageRunReport(0, "HealthCheck", 1, n + 1, began, began + timedelta(seconds=1),
                         "FAILED" if result == "FAILED" else "COMPLETED", None, None)  # fmt: skip
    version = "2.4.1" if result == "FAILED" else "2.5.0"
    seen = InstanceReport(
        f"10.0.{n // 250}.{n % 250}:8080", version, run.ended_at, version == "2.5.0"
    )
    return TenantReport(
        tenant_id=tenant_id or f"tenant-{n:05d}", task_id=f"task-{n}", position=n,
        service_type="portal", target_version="2.5.0", result=result, version_before="2.4.1",
        version_after="2.5.0" if result == "COMPLETED" else "2.4.1", started_at=began,
        finished_at=run.ended_at, attempts=1, stage_runs=(run,),
        failures=("HealthCheck: lagging",) if result == "FAILED" else (),
        steering=(Steering(began, "cli:<alice>", "PauseRequested", "</script>"),), evidence=(seen,),
    )  # fmt: skip


def plan(*tenants: TenantReport) -> PlanReport:
    """A plan of these tenants."""
    return PlanReport(
        plan_id="plan-1", name="green <rollout>", status="PARTIALLY_FAILED", max_concurrency=50,
        created_by="platform", created_at=START, finished_at=START + timedelta(hours=2),
        task_counts={}, tenants=tenants, comparison=compare(tenants), steering=(),
    )  # fmt: skip


def test_what_people_typed_is_escaped_and_the_embedded_data_cannot_close_its_script() -> None:
    page = render_html(plan(tenant(0, tenant_id="<b>evil</b>")), START)
    assert "<b>evil</b>" not in page and "&lt;b&gt;evil&lt;/b&gt;" in page
    assert "green &lt;rollout&gt;" in page
    embedded = re.search(r'id="tenant-data">(.*?)</script>', page, re.S)
    assert embedded is not None
    assert json.loads(embedded.group(1))[0]["steering"][0]["reason"] == "</script>"


def test_five_thousand_tenants_make_one_row_each() -> None:
    tenants = [tenant(n, "FAILED" if n % 100 == 0 else "COMPLETED") for n in range(5000)]
    report = plan(*tenants)
    page = render_html(report, START)
    assert page.count('<tr class="t"') == 5000
    assert page.count("<rect ") == 5000
    assert len(page) < 5000 * 1500  # one row and one bar each, not more
    (asked,) = report.comparison
    assert asked.observed == {"2.5.0": 4950, "2.4.1": 50}
    lines = summary_lines(report)
    assert sum(line.startswith("  tenant-") for line in lines) == SHOWN_TENANTS
    assert lines[-1].endswith(f"{50 - SHOWN_TENANTS} more not completed")
