"""`switchyard plan report ID`: a plan's report from the read tables, as text, JSON or HTML.

The report is read from the read tables (`projections.report`), so it shows
what the projector has applied: a plan the store knows but the read tables do
not yet is refused with `plan.not_found`, saying so.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer

from switchyard.adapters.cli.common import JsonOption, parse_id, with_app
from switchyard.adapters.cli.output import console
from switchyard.adapters.postgres.store_engine import store_engine
from switchyard.adapters.report.data import report_data
from switchyard.adapters.report.html import render_html
from switchyard.adapters.report.text import summary_lines
from switchyard.application.app import Switchyard
from switchyard.domain.errors import PlanNotFound
from switchyard.projections.report import PlanReport, plan_report

HtmlOption = Annotated[
    Path | None,
    typer.Option("--html", dir_okay=False, help="Also write the report as an HTML page there."),
]


def report(plan_id: str, html: HtmlOption = None, as_json: JsonOption = False) -> None:
    """Report on a plan: per tenant its result, timings, versions and evidence; asked vs observed.

    Prints a short summary (or, with --json, the whole report as JSON); --html FILE
    also writes a self-contained page with a table per tenant and a timeline.
    """
    pid = str(parse_id(plan_id, "plan"))
    found = with_app(lambda sy, _: read_report(sy, pid))
    if html is not None:
        html.write_text(render_html(found, datetime.now(UTC)), encoding="utf-8")
    if as_json:
        sys.stdout.write(json.dumps(report_data(found), indent=2) + "\n")
        return
    for line in summary_lines(found):
        console.print(line, highlight=False, markup=False)
    if html is not None:
        console.print(f"report written to {html}", highlight=False, markup=False)


def read_report(app: Switchyard, plan_id: str) -> PlanReport:
    """The plan's report from the read tables of the application's store."""
    engine = store_engine(app)
    try:
        with engine.connect() as conn:
            found = plan_report(conn, plan_id)
    finally:
        engine.dispose()
    if found is not None:
        return found
    app.describe_plan(UUID(plan_id))  # raises plan.not_found for an unknown plan
    raise PlanNotFound(
        f"the read tables have no plan {plan_id} yet: the projector has not applied its events",
        plan_id=plan_id,
    )
