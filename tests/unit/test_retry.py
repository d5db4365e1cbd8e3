"""Retry policy maths: backoffs, jitter bounds, attempt limits, and parsing the config."""

from __future__ import annotations

import random
from typing import Any

import pytest

from switchyard.domain.retry import (
    ExponentialBackoff,
    FixedBackoff,
    IntervalBackoff,
    RetryPolicy,
    parse_duration,
    parse_intervals,
    parse_retry_policy,
)


def lowest() -> float:
    return 0.0


def middle() -> float:
    return 0.5


def highest() -> float:
    return 0.9999999


class TestFixedBackoff:
    def test_waits_the_same_before_every_retry(self) -> None:
        backoff = FixedBackoff(2.0)
        assert [backoff.delay(n, highest) for n in (1, 2, 10)] == [2.0, 2.0, 2.0]


class TestExponentialBackoff:
    def test_grows_by_the_multiplier_per_retry(self) -> None:
        backoff = ExponentialBackoff(base=1.0, multiplier=2.0, jitter=0.0)
        assert [backoff.delay(n, middle) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]

    def test_never_waits_less_than_the_minimum(self) -> None:
        backoff = ExponentialBackoff(base=0.1, minimum=0.5, jitter=0.2)
        assert backoff.delay(1, lowest) == 0.5

    def test_never_waits_more_than_the_maximum(self) -> None:
        backoff = ExponentialBackoff(base=1.0, maximum=300.0, jitter=0.2)
        assert backoff.delay(20, highest) == 300.0
        assert backoff.delay(9, highest) == 300.0

    def test_jitter_stays_within_the_ratio_either_side(self) -> None:
        backoff = ExponentialBackoff(base=10.0, multiplier=2.0, jitter=0.2)
        assert backoff.delay(1, lowest) == pytest.approx(8.0)
        assert 11.99 < backoff.delay(1, highest) < 12.0
        assert backoff.delay(1, middle) == pytest.approx(10.0)

    def test_the_same_random_source_gives_the_same_waits(self) -> None:
        backoff = ExponentialBackoff()
        first = [backoff.delay(n, random.Random(7).random) for n in range(1, 12)]
        second = [backoff.delay(n, random.Random(7).random) for n in range(1, 12)]
        assert first == second
        assert all(0.5 <= delay <= 300.0 for delay in first)


class TestIntervalBackoff:
    def test_follows_the_list_and_repeats_the_last(self) -> None:
        backoff = IntervalBackoff(parse_intervals("1m,2m,4m"))
        assert [backoff.delay(n, middle) for n in range(1, 6)] == [60.0, 120.0, 240.0, 240.0, 240.0]


class TestRetryPolicy:
    def test_the_first_attempt_runs_at_once(self) -> None:
        assert RetryPolicy(3, FixedBackoff(5.0)).delay_before(1, middle) == 0.0

    def test_attempt_two_is_the_first_retry(self) -> None:
        policy = RetryPolicy(5, IntervalBackoff((60.0, 120.0)))
        assert [policy.delay_before(n, middle) for n in (2, 3, 4)] == [60.0, 120.0, 120.0]

    def test_stops_past_the_last_attempt(self) -> None:
        policy = RetryPolicy(3, FixedBackoff(5.0))
        assert policy.delay_before(3, middle) == 5.0
        assert policy.delay_before(4, middle) is None

    def test_unlimited_attempts_never_stop(self) -> None:
        policy = RetryPolicy(None, ExponentialBackoff())
        assert all(policy.delay_before(n, highest) == 300.0 for n in range(20, 1000, 37))

    def test_unlimited_attempts_keep_waiting_the_maximum_after_a_thousand_retries(self) -> None:
        policy = RetryPolicy(None, ExponentialBackoff())
        assert policy.delay_before(1030, middle) == 300.0
        assert policy.delay_before(10**6, lowest) == 240.0


class TestParseDuration:
    @pytest.mark.parametrize(
        ("text", "seconds"),
        [
            ("500ms", 0.5),
            ("3s", 3.0),
            ("1.5m", 90.0),
            ("2h", 7200.0),
            ("4", 4.0),
            (" 3 s ", 3.0),
            (2, 2.0),
            (0.25, 0.25),
        ],
    )
    def test_reads_units_and_bare_seconds(self, text: str | float, seconds: float) -> None:
        assert parse_duration(text) == seconds

    @pytest.mark.parametrize("text", ["", "soon", "1d", "-1s", "1s2", -1, True, "ms"])
    def test_refuses_what_is_not_a_duration(self, text: Any) -> None:
        with pytest.raises(ValueError):
            parse_duration(text)

    @pytest.mark.parametrize("number", [float("nan"), float("inf")])
    def test_refuses_numbers_that_are_not_finite(self, number: float) -> None:
        with pytest.raises(ValueError):
            parse_duration(number)


class TestParseIntervals:
    def test_reads_a_comma_separated_list(self) -> None:
        assert parse_intervals("1m, 2m,4m") == (60.0, 120.0, 240.0)

    @pytest.mark.parametrize("text", ["", " , ", "1m,later"])
    def test_refuses_an_empty_or_bad_list(self, text: str) -> None:
        with pytest.raises(ValueError):
            parse_intervals(text)


class TestParseRetryPolicy:
    def test_reads_intervals(self) -> None:
        policy = parse_retry_policy({"maxAttempts": 5, "intervals": "1m,2m,4m"})
        assert policy == RetryPolicy(5, IntervalBackoff((60.0, 120.0, 240.0)))

    def test_reads_a_fixed_backoff_and_unlimited_attempts(self) -> None:
        policy = parse_retry_policy({"maxAttempts": "unlimited", "fixed": "2s"})
        assert policy == RetryPolicy(None, FixedBackoff(2.0))

    def test_reads_an_exponential_backoff(self) -> None:
        spec = {"exponential": {"base": "2s", "multiplier": 3, "min": "1s", "max": "1m"}}
        policy = parse_retry_policy({"maxAttempts": 4, **spec})
        assert policy == RetryPolicy(4, ExponentialBackoff(2.0, 3.0, 1.0, 60.0, 0.2))

    def test_defaults_to_three_attempts_with_the_default_exponential_backoff(self) -> None:
        assert parse_retry_policy({}) == RetryPolicy(3, ExponentialBackoff())

    @pytest.mark.parametrize(
        "spec",
        [
            {"maxAttempts": 0},
            {"maxAttempts": "many"},
            {"maxAttempts": True},
            {"maxAttempts": 2.5},
            {"fixed": "2s", "intervals": "1m"},
            {"fixed": "soon"},
            {"intervals": ""},
            {"exponential": "fast"},
            {"exponential": {"jitter": 1.5}},
            {"exponential": {"jitter": -0.1}},
            {"exponential": {"min": "10s", "max": "1s"}},
            {"exponential": {"multiplier": 0.5}},
            {"exponential": {"base": "-1s"}},
        ],
    )
    def test_refuses_a_bad_spec(self, spec: dict[str, Any]) -> None:
        with pytest.raises(ValueError):
            parse_retry_policy(spec)
