"""`switchyard plan report ID`: a plan's report from the read tables, as text, JSON or HTML.

The report is read from the read tables (`projections.report`), so it shows
what the projector has applied (`--min-sequence` waits for a command; a plan the
read tables do not have yet is `plan.not_found`, saying that they are behind). With
--api it is the API's report (its JSON), rendered here the same way.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Connection

from switchyard.adapters.cli.common import JsonOption, parse_id
from switchyard.adapters.cli.output import console
from switchyard.adapters.cli.reads import MinSequenceOption, read_tables
from switchyard.adapters.cli.remote import RemoteApi, remote
from switchyard.adapters.report.data import report_data
from switchyard.adapters.report.html import render_html
from switchyard.adapters.report.parse import report_from_data
from switchyard.adapters.report.text import summary_lines
from switchyard.domain.errors import ApiError, PlanNotFound
from switchyard.projections.report import PlanReport, plan_report

HtmlOption = Annotated[
    Path | None,
    typer.Option("--html", dir_okay=False, help="Also write the report as an HTML page there."),
]


def report(
    plan_id: str,
    html: HtmlOption = None,
    min_sequence: MinSequenceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Report on a plan: per tenant its result, timings, versions and evidence; asked vs observed.

    Prints a short summary (or, with --json, the whole report as JSON); --html FILE
    also writes a self-contained page with a table per tenant and a timeline.
    """
    pid = str(parse_id(plan_id, "plan"))
    api = remote()
    if api is not None:
        found = remote_report(api, pid, min_sequence)
    else:
        found = read_tables(lambda conn: read_report(conn, pid), min_sequence)
    if html is not None:
        html.write_text(render_html(found, datetime.now(UTC)), encoding="utf-8")
    if as_json:
        sys.stdout.write(json.dumps(report_data(found), indent=2) + "\n")
        return
    for line in summary_lines(found):
        console.print(line, highlight=False, markup=False)
    if html is not None:
        console.print(f"report written to {html}", highlight=False, markup=False)


def remote_report(api: RemoteApi, plan_id: str, min_sequence: int | None) -> PlanReport:
    """The plan's report as the API answers it (`api.error` if it is not a report)."""
    data = api.get_json(f"/v1/plans/{plan_id}/report", minSequence=min_sequence)
    try:
        return report_from_data(data)
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise ApiError(f"the API's report of plan {plan_id} is not a report: {exc!r}") from exc


def read_report(conn: Connection, plan_id: str) -> PlanReport:
    """The plan's report from the read tables (plan.not_found if they do not have it)."""
    found = plan_report(conn, plan_id)
    if found is None:
        raise PlanNotFound(plan_id=plan_id)
    return found
