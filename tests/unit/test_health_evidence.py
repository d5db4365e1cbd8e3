"""What a health check records per instance, and failures' details: both round-trip through
plain JSON data, and data recorded before either was kept still reads."""

from __future__ import annotations

from datetime import UTC, datetime

from switchyard.domain.healthcheck import InstanceReport, recorded_reports
from switchyard.domain.values import FailureInfo, FailureType

POLLED = datetime(2026, 11, 2, 9, 30, 5, tzinfo=UTC)


def test_an_instance_report_round_trips_through_its_data() -> None:
    reports = [
        InstanceReport("10.0.0.7:8080", "2.5.0", POLLED, matched=True),
        InstanceReport("10.0.0.8:8080", None, POLLED, matched=False, problem="HTTP 503"),
        InstanceReport("10.0.0.9:8080", None, None, matched=False, problem="not checked"),
    ]
    recorded = {"reports": [report.to_data() for report in reports]}
    assert recorded["reports"][0] == {
        "instance": "10.0.0.7:8080",
        "version": "2.5.0",
        "checkedAt": "2026-11-02T09:30:05+00:00",
        "matched": True,
    }
    assert recorded_reports(recorded) == reports


def test_a_step_result_without_reports_has_none() -> None:
    assert recorded_reports({"instances": ["10.0.0.7:8080"], "attempts": 2}) == []


def test_a_failure_recorded_before_details_were_kept_reads_with_none() -> None:
    old = {"type": "io", "message": "redis: Connection reset by peer"}
    failure = FailureInfo.from_data(old)
    assert failure == FailureInfo(FailureType.IO, "redis: Connection reset by peer")
    assert failure.details == {}


def test_a_failure_with_details_round_trips() -> None:
    failure = FailureInfo(FailureType.HEALTH_CHECK, "1 of 2 lagging", {"reports": []})
    assert FailureInfo.from_data(failure.to_data()) == failure
