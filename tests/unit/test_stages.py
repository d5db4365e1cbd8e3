"""StageRunner: the decision table, retries, and circuit breakers per target."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from switchyard.adapters.steps.recipes import load_recipes
from switchyard.application.breakers import BreakerState, CircuitBreakers
from switchyard.application.ports import StageAbandoned, StepContext, StepFailed, stop_aware_sleep
from switchyard.application.stages import StageRunner
from switchyard.domain.request import TenantConfig
from switchyard.domain.stage_factory import StageFactory
from switchyard.domain.values import FailureType, StageDefinition, StepDefinition
from tests.support.clock import FakeClock

CONTEXT = StepContext(uuid.uuid4(), uuid.uuid4(), "acme", "2", fence=1)


@dataclass
class Downstream:
    """A step executor at the boundary: calls `params.target`, failing as planned."""

    failures: dict[str, FailureType] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)

    def target(self, step: StepDefinition) -> str | None:
        """The step's `target` param."""
        return str(step.params["target"])

    def run(self, step: StepDefinition, context: StepContext) -> Mapping[str, Any]:
        """Count the call; fail if the target is planned to fail."""
        target = str(step.params["target"])
        self.calls[target] += 1
        if target in self.failures:
            raise StepFailed(self.failures[target], f"{target} failed", target=target)
        return {"target": target}

    def undo(self, step: StepDefinition, recorded: Mapping[str, Any], context: StepContext) -> None:
        """Count the call; fail like `run`."""
        self.run(step, context)


class Crashing:
    """A step executor with a bug."""

    def run(self, step: StepDefinition, context: StepContext) -> Mapping[str, Any]:
        """Crash."""
        raise KeyError("bug")

    def undo(self, step: StepDefinition, recorded: Mapping[str, Any], context: StepContext) -> None:
        """Crash."""
        raise KeyError("bug")


def stage(target: str, attempts: int = 1) -> StageDefinition:
    """A stage of one call to the target, retried `attempts` times 1 s apart."""
    retry = {"maxAttempts": attempts, "fixed": "1s"}
    step = StepDefinition("call", {"target": target, "retry": retry})
    return StageDefinition("Call", (step,))


def runner(
    downstream: Downstream, clock: FakeClock, threshold: int = 3, max_quiet_waits: int = 2
) -> StageRunner:
    """A runner on the fake clock, with breakers opening after `threshold` failures."""
    breakers = CircuitBreakers(threshold, open_seconds=30.0, clock=clock)
    return StageRunner(
        {"call": downstream, "crash": Crashing()},
        sleep=clock.sleep,
        breakers=breakers,
        max_quiet_waits=max_quiet_waits,
    )


class TestDecisions:
    def test_a_retryable_failure_is_retried_per_the_policy_then_exhausted(self) -> None:
        clock, downstream = FakeClock(), Downstream({"db": FailureType.IO})
        run = runner(downstream, clock, threshold=10).run(stage("db", attempts=3), CONTEXT)
        assert run.failure is not None and run.failure.type == FailureType.IO
        assert run.retries_exhausted
        assert downstream.calls["db"] == 3
        assert clock.slept == [1.0, 1.0]

    def test_a_client_error_fails_at_once(self) -> None:
        clock, downstream = FakeClock(), Downstream({"api": FailureType.CLIENT_ERROR})
        run = runner(downstream, clock).run(stage("api", attempts=5), CONTEXT)
        assert run.failure is not None and run.failure.type == FailureType.CLIENT_ERROR
        assert not run.retries_exhausted
        assert downstream.calls["api"] == 1

    def test_an_executor_bug_fails_as_unknown(self) -> None:
        step = StepDefinition("crash", {"retry": {"maxAttempts": 3, "fixed": "1s"}})
        run = runner(Downstream(), FakeClock()).run(StageDefinition("S", (step,)), CONTEXT)
        assert run.failure is not None and run.failure.type == FailureType.UNKNOWN
        assert not run.retries_exhausted

    def test_a_step_kind_without_executor_is_fatal(self) -> None:
        step = StepDefinition("nobody", {})
        run = runner(Downstream(), FakeClock()).run(StageDefinition("S", (step,)), CONTEXT)
        assert run.failure is not None and run.failure.type == FailureType.FATAL

    def test_a_successful_stage_records_each_steps_result(self) -> None:
        run = runner(Downstream(), FakeClock()).run(stage("db"), CONTEXT)
        assert run.failure is None
        assert run.result == {"steps": [{"target": "db"}]}


class TestBreakers:
    def test_an_open_breaker_fails_fast_without_calling(self) -> None:
        clock, downstream = FakeClock(), Downstream({"db": FailureType.TIMEOUT})
        stages = runner(downstream, clock, threshold=3, max_quiet_waits=0)
        stages.run(stage("db", attempts=3), CONTEXT)
        assert stages.breakers.state("db") == BreakerState.OPEN
        run = stages.run(stage("db", attempts=3), CONTEXT)
        assert run.failure is not None and run.failure.type == FailureType.CIRCUIT_OPEN
        assert run.retries_exhausted
        assert downstream.calls["db"] == 3, "an open breaker let a call through"

    def test_other_targets_are_unaffected(self) -> None:
        clock, downstream = FakeClock(), Downstream({"db": FailureType.IO})
        stages = runner(downstream, clock, threshold=3, max_quiet_waits=0)
        stages.run(stage("db", attempts=3), CONTEXT)
        run = stages.run(stage("cache"), CONTEXT)
        assert run.failure is None
        assert stages.breakers.state("cache") == BreakerState.CLOSED

    def test_quiet_waits_last_the_open_period_and_spend_no_attempt(self) -> None:
        clock, downstream = FakeClock(), Downstream({"db": FailureType.IO})
        stages = runner(downstream, clock, threshold=2, max_quiet_waits=5)
        run = stages.run(stage("db", attempts=3), CONTEXT)
        # 2 failures open it; the quiet wait ends the open period; the trial is attempt 3.
        assert clock.slept == [1.0, 1.0, 29.0]
        assert downstream.calls["db"] == 3
        assert run.failure is not None and run.failure.type == FailureType.IO
        assert run.retries_exhausted

    def test_the_trial_after_the_open_period_closes_the_breaker_on_success(self) -> None:
        clock, downstream = FakeClock(), Downstream({"db": FailureType.IO})
        stages = runner(downstream, clock, threshold=2, max_quiet_waits=0)
        stages.run(stage("db", attempts=2), CONTEXT)
        del downstream.failures["db"]
        clock.now += 30
        assert stages.run(stage("db"), CONTEXT).failure is None
        assert stages.breakers.state("db") == BreakerState.CLOSED

    def test_gives_up_after_the_quiet_wait_limit(self) -> None:
        clock, downstream = FakeClock(), Downstream({"db": FailureType.IO})
        stages = runner(downstream, clock, threshold=1, max_quiet_waits=2)
        stages.run(stage("db"), CONTEXT)
        clock.slept.clear()
        downstream.calls.clear()
        run = stages.run(stage("db", attempts=100), CONTEXT)
        # Quiet waits (30, 29) fill each open period; each failed trial reopens it.
        assert clock.slept == [30.0, 1.0, 29.0, 1.0]
        assert downstream.calls["db"] == 2
        assert run.failure is not None and run.failure.type == FailureType.CIRCUIT_OPEN
        assert run.retries_exhausted

    def test_a_client_error_does_not_count_against_the_breaker(self) -> None:
        clock, downstream = FakeClock(), Downstream({"api": FailureType.CLIENT_ERROR})
        stages = runner(downstream, clock, threshold=1)
        stages.run(stage("api"), CONTEXT)
        assert stages.breakers.state("api") == BreakerState.CLOSED

    def test_an_undo_goes_through_the_same_breaker(self) -> None:
        clock, downstream = FakeClock(), Downstream({"db": FailureType.IO})
        stages = runner(downstream, clock, threshold=1, max_quiet_waits=0)
        stages.run(stage("db"), CONTEXT)
        failure = stages.undo(stage("db"), {"steps": [{"target": "db"}]}, CONTEXT)
        assert failure is not None and failure.type == FailureType.CIRCUIT_OPEN
        assert downstream.calls["db"] == 1


class TestShutdown:
    def test_a_stop_during_a_retry_wait_abandons_the_stage_instead_of_failing_it(self) -> None:
        stop = threading.Event()
        stop.set()
        downstream = Downstream(failures={"redis": FailureType.IO})
        runner = StageRunner({"call": downstream}, sleep=stop_aware_sleep(stop))
        step = StepDefinition(
            "call", {"target": "redis", "retry": {"maxAttempts": 5, "fixed": "1s"}}
        )
        with pytest.raises(StageAbandoned):
            runner.run(StageDefinition("Write", (step,)), CONTEXT)
        assert downstream.calls["redis"] == 1

    def test_without_a_stop_the_same_failure_is_retried_to_exhaustion(self) -> None:
        downstream = Downstream(failures={"redis": FailureType.IO})
        runner = StageRunner({"call": downstream}, sleep=stop_aware_sleep(threading.Event()))
        step = StepDefinition(
            "call", {"target": "redis", "retry": {"maxAttempts": 3, "fixed": "1ms"}}
        )
        run = runner.run(StageDefinition("Write", (step,)), CONTEXT)
        assert run.failure is not None and run.retries_exhausted
        assert downstream.calls["redis"] == 3


class TestStageTimeout:
    def test_no_retry_is_waited_for_past_the_stage_timeout(self) -> None:
        clock = FakeClock()
        downstream = Downstream(failures={"redis": FailureType.IO})
        runner = StageRunner({"call": downstream}, sleep=clock.sleep, monotonic=clock)
        step = StepDefinition(
            "call", {"target": "redis", "retry": {"maxAttempts": "unlimited", "fixed": "10s"}}
        )
        run = runner.run(StageDefinition("Write", (step,), timeout_seconds=35), CONTEXT)
        assert run.failure is not None and run.failure.type == FailureType.TIMEOUT
        assert downstream.calls["redis"] == 4  # at 0, 10, 20 and 30 s; a fifth would pass 35 s
        assert clock.now <= 35

    def test_a_running_step_sees_the_time_left_before_the_stage_timeout(self) -> None:
        clock, seen = FakeClock(), list[float | None]()

        class Waiting(Downstream):
            def run(self, step: StepDefinition, context: StepContext) -> Mapping[str, Any]:
                seen.append(context.seconds_left())
                clock.sleep(4)
                return {}

        runner = StageRunner({"call": Waiting()}, sleep=clock.sleep, monotonic=clock)
        step = StepDefinition("call", {"target": "redis"})
        runner.run(StageDefinition("Write", (step, step), timeout_seconds=10), CONTEXT)
        assert seen == [10, 6]
        assert CONTEXT.seconds_left() is None

    def test_a_stage_within_its_timeout_is_not_affected(self) -> None:
        clock = FakeClock()
        runner = StageRunner({"call": Downstream()}, sleep=clock.sleep, monotonic=clock)
        step = StepDefinition("call", {"target": "redis"})
        run = runner.run(StageDefinition("Write", (step, step), timeout_seconds=1), CONTEXT)
        assert run.failure is None


@dataclass
class Flaky:
    """A step executor at the boundary that fails `failures` times with `type`, then works."""

    failures: int
    type: FailureType = FailureType.IO
    calls: int = 0

    def run(self, step: StepDefinition, context: StepContext) -> Mapping[str, Any]:
        """Count the call; fail while failures are left."""
        self.calls += 1
        if self.calls <= self.failures:
            raise StepFailed(self.type, "connection reset by peer")
        return {"written": True}

    def undo(self, step: StepDefinition, recorded: Mapping[str, Any], context: StepContext) -> None:
        """Nothing to undo."""


def built_in_stage(name: str) -> StageDefinition:
    """The built-in blue-green-gateway recipe's stage of that name, for one tenant."""
    config = TenantConfig("acme", "blue-green-gateway", "2.4.1", ("gw-1:8080",))
    stages = StageFactory(load_recipes()).build(config, uuid.uuid4(), uuid.uuid4())
    return next(s for s in stages if s.name == name)


class TestBuiltInRecipes:
    @pytest.mark.parametrize("failure", [FailureType.IO, FailureType.TIMEOUT])
    def test_the_config_update_survives_one_transient_redis_error(
        self, failure: FailureType
    ) -> None:
        clock, redis_write = FakeClock(), Flaky(failures=1, type=failure)
        runner = StageRunner({"redis-write": redis_write}, sleep=clock.sleep, monotonic=clock)
        run = runner.run(built_in_stage("ConfigUpdate"), CONTEXT)
        assert run.failure is None, "lost write: one transient error failed the switch"
        assert redis_write.calls == 2
        assert len(clock.slept) == 1 and 0.25 <= clock.slept[0] <= 5.0

    def test_the_broadcast_gives_up_after_four_attempts(self) -> None:
        clock, redis_publish = FakeClock(), Flaky(failures=10)
        runner = StageRunner({"redis-publish": redis_publish}, sleep=clock.sleep, monotonic=clock)
        run = runner.run(built_in_stage("Broadcast"), CONTEXT)
        assert run.failure is not None and run.failure.type == FailureType.IO
        assert run.retries_exhausted
        assert redis_publish.calls == 4


class TestFailureDetails:
    def test_a_failed_stage_keeps_what_the_step_saw(self) -> None:
        class Seeing:
            def run(self, step: StepDefinition, context: StepContext) -> Mapping[str, Any]:
                """Fail, saying what was seen."""
                raise StepFailed(FailureType.HEALTH_CHECK, "lagging", details={"reports": []})

            def undo(
                self, step: StepDefinition, recorded: Mapping[str, Any], context: StepContext
            ) -> None:
                """Nothing."""

        stages = StageRunner({"see": Seeing()}, sleep=FakeClock().sleep)
        run = stages.run(StageDefinition("S", (StepDefinition("see", {}),)), CONTEXT)
        assert run.failure is not None and run.failure.details == {"reports": []}
