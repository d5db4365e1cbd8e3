"""Circuit breakers per target: transitions on a fake clock, and many threads at once."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from switchyard.application.breakers import BreakerState, CircuitBreakers, CircuitOpen
from switchyard.domain.values import FailureType


class FakeClock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def breakers(clock: FakeClock, threshold: int = 3, open_seconds: float = 30.0) -> CircuitBreakers:
    """Breakers on the fake clock."""
    return CircuitBreakers(threshold, open_seconds, clock=clock)


def fail_times(b: CircuitBreakers, target: str, times: int) -> None:
    """Admit and fail `times` calls to the target."""
    for _ in range(times):
        b.admit(target)
        b.failed(target)


def test_opens_after_the_threshold_of_consecutive_failures() -> None:
    b = breakers(FakeClock())
    fail_times(b, "redis", 2)
    assert b.state("redis") == BreakerState.CLOSED
    fail_times(b, "redis", 1)
    assert b.state("redis") == BreakerState.OPEN
    assert b.opens.get("redis") == 1


def test_a_success_resets_the_consecutive_count() -> None:
    b = breakers(FakeClock())
    fail_times(b, "redis", 2)
    b.succeeded("redis")
    fail_times(b, "redis", 2)
    assert b.state("redis") == BreakerState.CLOSED


def test_an_open_breaker_refuses_with_the_time_left() -> None:
    clock = FakeClock()
    b = breakers(clock)
    fail_times(b, "redis", 3)
    clock.now += 10
    with pytest.raises(CircuitOpen) as refused:
        b.admit("redis")
    assert refused.value.type == FailureType.CIRCUIT_OPEN
    assert refused.value.target == "redis"
    assert refused.value.retry_in == pytest.approx(20.0)


def test_other_targets_are_unaffected() -> None:
    b = breakers(FakeClock())
    fail_times(b, "redis", 3)
    b.admit("api:443")
    assert b.state("api:443") == BreakerState.CLOSED


def test_half_open_lets_one_trial_through_and_its_success_closes() -> None:
    clock = FakeClock()
    b = breakers(clock)
    fail_times(b, "redis", 3)
    clock.now += 30
    assert b.state("redis") == BreakerState.HALF_OPEN
    b.admit("redis")
    with pytest.raises(CircuitOpen):
        b.admit("redis")
    b.succeeded("redis")
    assert b.state("redis") == BreakerState.CLOSED
    b.admit("redis")


def test_a_failed_trial_opens_again_for_a_full_period() -> None:
    clock = FakeClock()
    b = breakers(clock)
    fail_times(b, "redis", 3)
    clock.now += 30
    fail_times(b, "redis", 1)
    assert b.state("redis") == BreakerState.OPEN
    assert b.opens.get("redis") == 2
    clock.now += 29
    with pytest.raises(CircuitOpen):
        b.admit("redis")


def test_a_trial_that_never_reports_is_replaced_after_a_period() -> None:
    clock = FakeClock()
    b = breakers(clock)
    fail_times(b, "redis", 3)
    clock.now += 30
    b.admit("redis")  # the trial's caller vanishes
    clock.now += 30
    b.admit("redis")
    assert b.state("redis") == BreakerState.HALF_OPEN


def test_a_late_failure_of_a_call_let_through_before_opening_does_not_reopen() -> None:
    clock = FakeClock()
    b = breakers(clock)
    for _ in range(4):
        b.admit("redis")
    for _ in range(4):
        b.failed("redis")
    assert b.opens.get("redis") == 1


def test_refuses_a_threshold_below_one() -> None:
    with pytest.raises(ValueError):
        CircuitBreakers(0, 30.0)


def run_together(threads: int, work: Callable[[], None]) -> None:
    """Run `work` on many threads released at the same moment."""
    start = threading.Barrier(threads)

    def go() -> None:
        start.wait()
        work()

    pool = [threading.Thread(target=go) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()


def test_many_threads_failing_at_once_open_the_breaker_once() -> None:
    b = breakers(FakeClock(), threshold=5)

    def fail_some() -> None:
        for _ in range(50):
            b.failed("redis")

    run_together(16, fail_some)
    assert b.state("redis") == BreakerState.OPEN
    assert b.opens.get("redis") == 1


def test_many_threads_at_half_open_get_exactly_one_trial() -> None:
    clock = FakeClock()
    b = breakers(clock)
    fail_times(b, "redis", 3)
    clock.now += 30
    admitted: list[bool] = []
    lock = threading.Lock()

    def try_once() -> None:
        try:
            b.admit("redis")
            outcome = True
        except CircuitOpen:
            outcome = False
        with lock:
            admitted.append(outcome)

    run_together(16, try_once)
    assert sorted(admitted) == [False] * 15 + [True]
