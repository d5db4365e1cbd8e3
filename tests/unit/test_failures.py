"""The decision table: every failure type has a decision, and the docstring shows them all."""

from __future__ import annotations

import re

from switchyard.application import failures
from switchyard.application.failures import DECISIONS, Outcome
from switchyard.domain.values import FailureType


def test_every_failure_type_has_a_decision() -> None:
    assert set(DECISIONS) == set(FailureType)


def test_the_docstring_table_shows_the_table() -> None:
    rows = re.findall(
        r"^\s+(\w+)\s+(RETRY_QUIET|RETRY|FAIL)\s+(yes|no)", failures.__doc__ or "", re.M
    )
    shown = {FailureType(t): (Outcome[o], flag == "yes") for t, o, flag in rows}
    assert shown == {t: (d.outcome, d.trips_breaker) for t, d in DECISIONS.items()}


def test_only_signs_of_an_unwell_downstream_trip_a_breaker() -> None:
    tripping = {t for t, d in DECISIONS.items() if d.trips_breaker}
    assert tripping == {FailureType.TIMEOUT, FailureType.IO, FailureType.RATE_LIMITED}


def test_an_open_circuit_is_retried_quietly() -> None:
    assert DECISIONS[FailureType.CIRCUIT_OPEN].outcome is Outcome.RETRY_QUIET


def test_what_a_retry_cannot_fix_fails_at_once() -> None:
    failing = {t for t, d in DECISIONS.items() if d.outcome is Outcome.FAIL}
    assert failing == {
        FailureType.CLIENT_ERROR,
        FailureType.HEALTH_CHECK,
        FailureType.FATAL,
        FailureType.UNKNOWN,
    }
