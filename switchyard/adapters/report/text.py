"""The plan report as a few lines of plain text, for a terminal."""

from __future__ import annotations

from switchyard.projections.report import PlanReport, TenantReport

SHOWN_TENANTS = 20
"""How many tenants that did not complete the summary names; the rest are counted."""


def summary_lines(report: PlanReport) -> list[str]:
    """The plan, its counts, asked versus observed, and the tenants that did not complete."""
    counts = ", ".join(f"{status} {n}" for status, n in sorted(report.task_counts.items()))
    lines = [
        f"plan {report.plan_id} ({report.name or 'unnamed'}): {report.status}",
        f"  {len(report.tenants)} tenants: {counts or 'none'}",
        f"  retries {sum(t.retries for t in report.tenants)}, "
        f"failures {sum(len(t.failures) for t in report.tenants)}, "
        f"steering commands {len(report.steering) + sum(len(t.steering) for t in report.tenants)}",
    ]
    for c in report.comparison:
        observed = ", ".join(f"{v} x{n}" for v, n in c.observed.items()) or "no reports"
        lines.append(
            f"  asked {c.version} of {c.tenants} tenants: {c.matched}/{c.instances} instances "
            f"reported it ({observed}); {c.without_evidence} tenants without evidence"
        )
    unfinished = [t for t in report.tenants if t.result != "COMPLETED"]
    lines += [f"  {_tenant_line(t)}" for t in unfinished[:SHOWN_TENANTS]]
    if len(unfinished) > SHOWN_TENANTS:
        lines.append(f"  ... and {len(unfinished) - SHOWN_TENANTS} more not completed")
    return lines


def _tenant_line(tenant: TenantReport) -> str:
    failure = f": {tenant.failures[-1]}" if tenant.failures else ""
    versions = f"{tenant.version_before or '-'} -> {tenant.version_after or '-'}"
    return f"{tenant.tenant_id} {tenant.result} ({versions}){failure}"
