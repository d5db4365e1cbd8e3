"""Running one stage (or undoing it): its steps in order, each through its executor.

A step may carry a `retry` policy in its params (see `domain.retry`); without
one it is tried once. Failures of type timeout, I/O and rate-limited are
retried while the policy allows; the others end the stage at once.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from application.ports import StepContext, StepExecutor, StepFailed
from domain.retry import RetryPolicy, parse_retry_policy
from domain.values import FailureInfo, FailureType, StageDefinition, StepDefinition

log = logging.getLogger(__name__)

RETRYABLE = frozenset({FailureType.TIMEOUT, FailureType.IO, FailureType.RATE_LIMITED})
"""Failure types worth another attempt of the same step."""

ONCE = RetryPolicy(max_attempts=1, backoff=parse_retry_policy({"fixed": 0}).backoff)
"""The policy of a step that names none: one attempt."""


@dataclass(frozen=True)
class StageRun:
    """How a stage ended: the data its undo needs, or why it failed."""

    result: Mapping[str, Any]
    failure: FailureInfo | None = None


class StageRunner:
    """Runs and undoes stages with the registered step executors.

    `sleep` waits between attempts (a stop event's `wait` cuts it short on shutdown).
    """

    def __init__(
        self,
        executors: Mapping[str, StepExecutor],
        sleep: Callable[[float], object],
        random_source: Callable[[], float] = random.random,
    ) -> None:
        self._executors = dict(executors)
        self._sleep = sleep
        self._random = random_source

    def run(self, stage: StageDefinition, context: StepContext) -> StageRun:
        """Run every step in order; stop at the first that fails for good."""
        results: list[Mapping[str, Any]] = []
        for step in stage.steps:
            try:
                results.append(self._attempt(step, context, undo=None))
            except StepFailed as failed:
                return StageRun({"steps": results}, FailureInfo(failed.type, failed.message))
        return StageRun({"steps": results})

    def undo(
        self, stage: StageDefinition, result: Mapping[str, Any], context: StepContext
    ) -> FailureInfo | None:
        """Undo the steps newest first from what they recorded; the failure, if any."""
        recorded = list(result.get("steps", []))
        for index in reversed(range(len(recorded))):
            try:
                self._attempt(stage.steps[index], context, undo=recorded[index])
            except StepFailed as failed:
                return FailureInfo(failed.type, failed.message)
        return None

    def _attempt(
        self, step: StepDefinition, context: StepContext, undo: Mapping[str, Any] | None
    ) -> Mapping[str, Any]:
        executor = self._executors.get(step.kind)
        if executor is None:
            raise StepFailed(FailureType.FATAL, f"no executor for step kind {step.kind!r}")
        policy = _policy(step)
        attempt = 1
        while True:
            try:
                if undo is not None:
                    executor.undo(step, undo, context)
                    return {}
                return dict(executor.run(step, context))
            except StepFailed as failed:
                delay = policy.delay_before(attempt + 1, self._random)
                if failed.type not in RETRYABLE or delay is None:
                    raise
                log.info(
                    "step %s failed (%s); retry %d in %.1fs", step.kind, failed, attempt, delay
                )
            except Exception as exc:  # an executor bug must fail the stage, not the worker
                log.exception("step %s crashed", step.kind)
                raise StepFailed(FailureType.UNKNOWN, f"{type(exc).__name__}: {exc}") from exc
            self._sleep(delay)
            attempt += 1


def _policy(step: StepDefinition) -> RetryPolicy:
    spec = step.params.get("retry")
    if not isinstance(spec, Mapping):
        return ONCE
    try:
        return parse_retry_policy(spec)
    except ValueError:
        log.warning("step %s has a malformed retry policy; trying once", step.kind)
        return ONCE
