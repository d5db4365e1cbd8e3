"""The HTML report's timeline: every stage run as a bar, one SVG row per tenant.

Like a Gantt chart: the x axis is time from the plan's creation to the last
run's end (an open run is drawn up to when the report was made), bars are
coloured by outcome, and each operator's command on a task is a mark on its
row. Each element has a tooltip (`<title>`). It is drawn in one pass over the
runs; rows are a fixed height, so 5,000 tenants make one tall, scrollable SVG.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from html import escape

from switchyard.adapters.report.display import seconds, when
from switchyard.projections.report import PlanReport, TenantReport

ROW_HEIGHT = 14
"""Pixels per tenant."""

LABEL_WIDTH = 180
"""Pixels for the tenant names left of the bars."""

CHART_WIDTH = 900
"""Pixels for the time axis."""

TICKS = 6
"""How many intervals the axis marks."""

OUTCOMES = {
    "COMPLETED": "ok",
    "FAILED": "failed",
    "INTERRUPTED": "interrupted",
    "ROLLED_BACK": "rolled",
    "ROLLBACK_FAILED": "failed",
}
"""A stage run's outcome and its colour class (a run without one is still open)."""

Scale = Callable[[datetime], float]


def timeline(report: PlanReport, generated_at: datetime) -> str:
    """The timeline's section: a legend, the axis, and the rows in a scrolling box."""
    runs = [run for t in report.tenants for run in t.stage_runs]
    if not runs:
        return '<section id="timeline"><h2>Timeline</h2><p>No stage has run.</p></section>\n'
    start = min(run.started_at for run in runs)
    if report.created_at is not None:
        start = min(start, report.created_at)
    end = max(max(run.ended_at or generated_at for run in runs), start)
    span = max((end - start).total_seconds(), 0.001)

    def x(at: datetime) -> float:
        share = min(max((at - start).total_seconds() / span, 0.0), 1.0)
        return LABEL_WIDTH + share * CHART_WIDTH

    rows = "".join(_row(i, t, x, generated_at) for i, t in enumerate(report.tenants))
    legend = "".join(
        f'<span><i style="background:var(--{colour})"></i>{outcome.lower()}</span>'
        for outcome, colour in (*OUTCOMES.items(), ("RUNNING", "open"))
    )
    return (
        '<section id="timeline"><h2>Timeline of stage runs</h2>\n'
        f'<p class="legend">{legend}<span>▼ an operator\'s command</span></p>\n'
        f"{_axis(start, span)}"
        f'<div class="scroll"><svg width="{LABEL_WIDTH + CHART_WIDTH + 10}" '
        f'height="{ROW_HEIGHT * len(report.tenants)}" role="img" '
        f'aria-label="stage runs per tenant">{_grid(len(report.tenants))}{rows}</svg></div>'
        "</section>\n"
    )


def _axis(start: datetime, span: float) -> str:
    marks = "".join(
        f'<text x="{LABEL_WIDTH + CHART_WIDTH * n / TICKS:.1f}" y="12" text-anchor="middle">'
        f"+{seconds(span * n / TICKS)}</text>"
        for n in range(1, TICKS + 1)
    )
    return (
        f'<svg width="{LABEL_WIDTH + CHART_WIDTH + 10}" height="18">'
        f'<text x="0" y="12">from {when(start)}</text>{marks}</svg>\n'
    )


def _grid(rows: int) -> str:
    lines = "".join(f"M0 {ROW_HEIGHT * r}H{LABEL_WIDTH + CHART_WIDTH}" for r in range(1, rows))
    return f'<path class="grid" d="{lines}"/>' if lines else ""


def _row(index: int, tenant: TenantReport, x: Scale, generated_at: datetime) -> str:
    top = index * ROW_HEIGHT
    parts = [f'<text x="2" y="{top + ROW_HEIGHT - 3}">{escape(tenant.tenant_id[:28])}</text>']
    for run in tenant.stage_runs:
        left, right = x(run.started_at), x(run.ended_at or generated_at)
        took = "running" if run.seconds is None else seconds(run.seconds)
        tip = (
            f"{tenant.tenant_id} · {run.stage_name} · attempt {run.attempt} · {took} · "
            f"{run.outcome or 'RUNNING'}"
        )
        parts.append(
            f'<rect class="{OUTCOMES.get(run.outcome or "", "open")}" x="{left:.1f}" '
            f'y="{top + 2}" width="{max(right - left - 0.5, 1.0):.1f}" '
            f'height="{ROW_HEIGHT - 4}"><title>{escape(tip)}</title></rect>'
        )
    for command in tenant.steering:
        at = x(command.time)
        tip = f"{command.action} by {command.actor or '-'}: {command.reason or ''}"
        mark = f'<path class="steer" d="M{at - 3:.1f} {top}h6l-3 5z">'
        parts.append(f"{mark}<title>{escape(tip)}</title></path>")
    return "".join(parts)
