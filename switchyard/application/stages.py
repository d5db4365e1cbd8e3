"""Running one stage (or undoing it): its steps in order, each through its executor.

A step may carry a `retry` policy in its params (see `domain.retry`); without
one it is tried once. What a failure leads to comes from the decision table in
`application.failures`: retry per the policy, retry quietly (a breaker is
open), or fail the stage at once.

An executor that names the downstream a step calls (`target(step)`, see
`TargetedExecutor`) gets a circuit breaker on it (`application.breakers`): while
the breaker is open the step is not called at all, and the runner waits for the
breaker's open period instead, up to `max_quiet_waits` times per step. A step's
undo counts against the same target as its run.

A stage's `timeout_seconds` bounds it: no step starts and no retry is waited
for past it (the stage then fails with a timeout). A running step sees the
deadline in its context (`StepContext.seconds_left`): one that polls or waits
(the health check) stops there and fails with a timeout too; a single call is
bounded by its own timeout.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol, runtime_checkable

from switchyard.application.breakers import CircuitBreakers, CircuitOpen
from switchyard.application.failures import DECISIONS, Outcome
from switchyard.application.metrics import NO_METER, Meter, StageOutcome
from switchyard.application.ports import StageAbandoned, StepContext, StepExecutor, StepFailed
from switchyard.domain.retry import FixedBackoff, RetryPolicy, parse_retry_policy
from switchyard.domain.values import FailureInfo, FailureType, StageDefinition, StepDefinition

log = logging.getLogger(__name__)

ONCE = RetryPolicy(max_attempts=1, backoff=FixedBackoff(0.0))
"""The policy of a step that names none: one attempt."""

MAX_QUIET_WAITS = 10
"""How many open periods a step waits out on an open breaker before its stage fails."""


@runtime_checkable
class TargetedExecutor(Protocol):
    """A step executor that can say, before calling, which downstream a step calls."""

    def target(self, step: StepDefinition) -> str | None:
        """The downstream the step calls (e.g. "redis", "host:port"), or None if it has many."""
        ...


@dataclass(frozen=True)
class StageRun:
    """How a stage ended: the data its undo needs, or why it failed.

    `retries_exhausted` tells a retryable failure that ran out of attempts (or
    quiet waits) from one the decision table fails at once.
    """

    result: Mapping[str, Any]
    failure: FailureInfo | None = None
    retries_exhausted: bool = False


@dataclass
class _GaveUp(Exception):
    """A step failed for good; `exhausted` if its failure was retryable."""

    failure: StepFailed
    exhausted: bool


@dataclass
class _Tries:
    """Where a step's retries stand: the attempt it is on and the quiet waits so far."""

    policy: RetryPolicy
    attempt: int = 1
    quiet_waits: int = 0


class StageRunner:
    """Runs and undoes stages with the registered step executors.

    `sleep` waits between attempts; on shutdown it raises StageAbandoned
    (`application.ports.stop_aware_sleep`), which passes through to the worker.
    `meter` hears how long each stage took and how it ended (an abandoned one is
    not reported), and each step tried again.
    """

    def __init__(
        self,
        executors: Mapping[str, StepExecutor],
        sleep: Callable[[float], object],
        random_source: Callable[[], float] = random.random,
        breakers: CircuitBreakers | None = None,
        max_quiet_waits: int = MAX_QUIET_WAITS,
        monotonic: Callable[[], float] = time.monotonic,
        meter: Meter = NO_METER,
    ) -> None:
        self._executors = dict(executors)
        self._sleep = sleep
        self._random = random_source
        self.breakers = breakers or CircuitBreakers()
        self._max_quiet_waits = max_quiet_waits
        self._monotonic = monotonic
        self._meter = meter

    def run(self, stage: StageDefinition, context: StepContext) -> StageRun:
        """Run every step in order; stop at the first that fails for good."""
        started = self._monotonic()
        results: list[Mapping[str, Any]] = []
        deadline = self._deadline(stage)
        context = replace(context, deadline=deadline, clock=self._monotonic)
        for step in stage.steps:
            try:
                results.append(self._attempt(step, context, undo=None, deadline=deadline))
            except _GaveUp as gave_up:
                stopped = gave_up.failure
                failure = FailureInfo(stopped.type, stopped.message, stopped.details)
                self._ended(stage, StageOutcome.FAILED, started)
                return StageRun({"steps": results}, failure, gave_up.exhausted)
        self._ended(stage, StageOutcome.COMPLETED, started)
        return StageRun({"steps": results})

    def undo(
        self, stage: StageDefinition, result: Mapping[str, Any], context: StepContext
    ) -> FailureInfo | None:
        """Undo the steps newest first from what they recorded; the failure, if any."""
        started = self._monotonic()
        recorded = list(result.get("steps", []))
        deadline = self._deadline(stage)
        context = replace(context, deadline=deadline, clock=self._monotonic)
        for index in reversed(range(len(recorded))):
            try:
                self._attempt(stage.steps[index], context, recorded[index], deadline)
            except _GaveUp as gave_up:
                self._ended(stage, StageOutcome.ROLLBACK_FAILED, started)
                return FailureInfo(gave_up.failure.type, gave_up.failure.message)
        self._ended(stage, StageOutcome.ROLLED_BACK, started)
        return None

    def _ended(self, stage: StageDefinition, outcome: StageOutcome, started: float) -> None:
        self._meter.stage_ended(stage.name, outcome, self._monotonic() - started)

    def _deadline(self, stage: StageDefinition) -> float | None:
        if stage.timeout_seconds is None:
            return None
        return self._monotonic() + stage.timeout_seconds

    def _check_deadline(self, deadline: float | None, wait: float = 0.0) -> None:
        if deadline is not None and self._monotonic() + wait > deadline:
            timeout = StepFailed(FailureType.TIMEOUT, "the stage's timeout was reached")
            raise _GaveUp(timeout, exhausted=True)

    def _attempt(
        self,
        step: StepDefinition,
        context: StepContext,
        undo: Mapping[str, Any] | None,
        deadline: float | None,
    ) -> Mapping[str, Any]:
        executor = self._executors.get(step.kind)
        if executor is None:
            missing = StepFailed(FailureType.FATAL, f"no executor for step kind {step.kind!r}")
            raise _GaveUp(missing, exhausted=False)
        target = executor.target(step) if isinstance(executor, TargetedExecutor) else None
        tries = _Tries(_policy(step))
        while True:
            self._check_deadline(deadline)
            try:
                return self._call(executor, step, context, undo, target)
            except StepFailed as failed:
                delay = self._delay_before_next(failed, tries)
                self._meter.step_retried(step.kind, failed.type)
                log.info(
                    "step %s failed (%s); try %d in %.1fs", step.kind, failed, tries.attempt, delay
                )
            self._check_deadline(deadline, delay)
            self._sleep(delay)

    def _call(
        self,
        executor: StepExecutor,
        step: StepDefinition,
        context: StepContext,
        undo: Mapping[str, Any] | None,
        target: str | None,
    ) -> Mapping[str, Any]:
        """One call of the executor, through the target's breaker."""
        if target is not None:
            self.breakers.admit(target)
        try:
            if undo is not None:
                executor.undo(step, undo, context)
                result: Mapping[str, Any] = {}
            else:
                result = dict(executor.run(step, context))
        except (StepFailed, StageAbandoned) as stopped:
            if isinstance(stopped, StepFailed):
                self._record(target, stopped.type)
            raise
        except Exception as exc:  # an executor bug must fail the stage, not the worker
            log.exception("step %s crashed", step.kind)
            self._record(target, FailureType.UNKNOWN)
            raise StepFailed(FailureType.UNKNOWN, f"{type(exc).__name__}: {exc}") from exc
        self._record(target, None)
        return result

    def _record(self, target: str | None, failure: FailureType | None) -> None:
        if target is None:
            return
        if failure is not None and DECISIONS[failure].trips_breaker:
            self.breakers.failed(target)
        else:
            self.breakers.succeeded(target)

    def _delay_before_next(self, failed: StepFailed, tries: _Tries) -> float:
        """Seconds to wait before trying again, counting the try; raise _GaveUp to stop."""
        outcome = DECISIONS[failed.type].outcome
        if outcome is Outcome.RETRY_QUIET:
            tries.quiet_waits += 1
            if tries.quiet_waits > self._max_quiet_waits:
                raise _GaveUp(failed, exhausted=True)
            if isinstance(failed, CircuitOpen):
                return failed.retry_in
            return tries.policy.backoff.delay(tries.attempt, self._random)
        delay = tries.policy.delay_before(tries.attempt + 1, self._random)
        if outcome is Outcome.FAIL or delay is None:
            raise _GaveUp(failed, exhausted=outcome is Outcome.RETRY)
        tries.attempt += 1
        return delay


def _policy(step: StepDefinition) -> RetryPolicy:
    spec = step.params.get("retry")
    if not isinstance(spec, Mapping):
        return ONCE
    try:
        return parse_retry_policy(spec)
    except ValueError:
        log.warning("step %s has a malformed retry policy; trying once", step.kind)
        return ONCE
