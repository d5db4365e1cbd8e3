"""The plan report as one self-contained HTML page: no request leaves it (styles, script,
the timeline's SVG and the tenants' details are all inline).

The page has the plan's summary (counts, what was asked against what the
instances reported, the plan-wide commands), a timeline of every stage run
(`report.timeline`), and a table of one row per tenant, filterable, whose
details (stage runs, health-check evidence, commands) open on a click from
the JSON embedded in the page. Everything is drawn in one pass over the
tenants and their runs, so 5,000 tenants make a long page, not a slow one.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from html import escape

from switchyard.adapters.report.data import tenant_data
from switchyard.adapters.report.display import badge, between, counts, seconds, when
from switchyard.adapters.report.page import SCRIPT, STYLE
from switchyard.adapters.report.timeline import timeline
from switchyard.projections.report import PlanReport, TenantReport


def render_html(report: PlanReport, generated_at: datetime) -> str:
    """The whole page; runs still open are drawn up to `generated_at`."""
    title = f"Plan report: {report.name or report.plan_id}"
    details = json.dumps([tenant_data(t) for t in report.tenants], separators=(",", ":"))
    return "".join(
        [
            '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>\n",
            _header(report, title, generated_at),
            _summary(report),
            timeline(report, generated_at),
            _table(report),
            '<script type="application/json" id="tenant-data">',
            details.replace("</", "<\\/"),
            f"</script>\n<script>{SCRIPT}</script>\n</body></html>\n",
        ]
    )


def _header(report: PlanReport, title: str, generated_at: datetime) -> str:
    took = between(report.created_at, report.finished_at)
    return (
        f"<h1>{escape(title)} {badge(report.status)}</h1>\n"
        f'<p class="meta">plan {escape(report.plan_id)} · created by '
        f"{escape(report.created_by or '-')} at {when(report.created_at)} · finished "
        f"{when(report.finished_at)}{f' (after {took})' if took else ''} · max concurrency "
        f"{report.max_concurrency or '-'} · report made {when(generated_at)}</p>\n"
    )


def _summary(report: PlanReport) -> str:
    tenants = report.tenants
    by_status = " · ".join(f"{badge(s)} {n}" for s, n in sorted(report.task_counts.items()))
    commands = len(report.steering) + sum(len(t.steering) for t in tenants)
    totals = (
        f"<p>{len(tenants)} tenants: {by_status or 'none'}</p>\n<p>retries "
        f"{sum(t.retries for t in tenants)} · failures {sum(len(t.failures) for t in tenants)}"
        f" · operators' commands {commands}</p>\n"
    )
    rows = "".join(
        f"<tr><td>{escape(c.version)}</td><td class=n>{c.tenants}</td>"
        f"<td>{counts(c.results)}</td><td class=n>{c.instances}</td>"
        f'<td class="n {"good" if c.matched == c.instances else "bad"}">{c.matched}</td>'
        f"<td>{counts(c.observed)}</td><td class=n>{c.without_evidence}</td></tr>"
        for c in report.comparison
    )
    asked = (
        "<h3>Asked versus observed</h3><table><tr><th>version asked</th><th>tenants</th>"
        "<th>results</th><th>instances polled</th><th>reported it</th>"
        "<th>versions reported (last poll)</th><th>tenants without evidence</th></tr>"
        f"{rows}</table>\n"
    )
    plan_wide = _plan_commands(report)
    return f'<section id="summary"><h2>Summary</h2>\n{totals}{asked}{plan_wide}</section>\n'


def _plan_commands(report: PlanReport) -> str:
    if not report.steering:
        return "<p>No command was given to the whole plan.</p>\n"
    items = "".join(
        f"<li>{when(s.time)} {escape(s.actor or '-')}: {escape(s.action)}"
        f"{f' ({escape(s.reason)})' if s.reason else ''}</li>"
        for s in report.steering
    )
    return f"<h3>Commands to the whole plan</h3><ul>{items}</ul>\n"


def _table(report: PlanReport) -> str:
    results = sorted({t.result for t in report.tenants})
    options = "".join(f"<option>{escape(r)}</option>" for r in results)
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "#", "tenant", "result", "took", "version before → after", "stages (runs)",
            "retries", "failures", "steered by", "instances on the version",
        )
    )  # fmt: skip
    rows = "".join(_tenant_row(i, t) for i, t in enumerate(report.tenants))
    return (
        '<section id="tenants"><details open><summary><h2 style="display:inline">Tenants'
        "</h2> (click a row for its stage runs, evidence and commands)</summary>\n"
        '<div class="filters"><input id="filter-text" type="search" '
        'placeholder="filter by tenant, version, actor…"> <select id="filter-result">'
        f'<option value="">every result</option>{options}</select> <span id="shown"></span>'
        f"</div>\n<table><thead><tr>{head}</tr></thead><tbody>\n{rows}</tbody></table>"
        "</details></section>\n"
    )


def _tenant_row(index: int, tenant: TenantReport) -> str:
    runs = Counter(run.stage_name for run in tenant.stage_runs)
    stages = ", ".join(
        f"{escape(name)} &times;{n}" if n > 1 else escape(name) for name, n in runs.items()
    )
    actors = sorted({s.actor or "-" for s in tenant.steering})
    matched = sum(1 for r in tenant.evidence if r.matched)
    evidence = f"{matched}/{len(tenant.evidence)}" if tenant.evidence else "no evidence"
    versions = f"{tenant.version_before or '-'} → {tenant.version_after or '-'}"
    search = " ".join([tenant.tenant_id, tenant.result, versions, tenant.target_version, *actors])
    failure = tenant.failures[-1] if tenant.failures else ""
    cells = [
        f"<td class=n>{tenant.position}</td><td>{escape(tenant.tenant_id)}</td>",
        f"<td>{badge(tenant.result)}</td><td class=n>{seconds(tenant.seconds)}</td>",
        f"<td>{escape(versions)}</td><td>{stages or '-'}</td>",
        f"<td class=n>{tenant.retries}</td>",
        f'<td class="bad" title="{escape(failure)}">{len(tenant.failures) or ""}</td>',
        f"<td>{escape(', '.join(actors))}</td>",
        f'<td class="{"good" if tenant.evidence and matched == len(tenant.evidence) else "bad"}">'
        f"{evidence}</td>",
    ]
    return (
        f'<tr class="t" data-i="{index}" data-r="{escape(tenant.result)}" '
        f'data-s="{escape(search.lower())}">{"".join(cells)}</tr>\n'
    )
