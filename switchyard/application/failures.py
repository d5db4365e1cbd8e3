"""The decision table: what the scheduler does when a step fails, by failure type.

    failure type   outcome       counts against the target's breaker
    ------------   -----------   -----------------------------------
    timeout        RETRY         yes
    io             RETRY         yes
    rate_limited   RETRY         yes
    circuit_open   RETRY_QUIET   no  (the call was never made)
    client_error   FAIL          no  (the downstream answered: the request is wrong)
    health_check   FAIL          no  (the step polled on its own already)
    fatal          FAIL          no
    unknown        FAIL          no  (an executor bug or an unmapped error: repeating it
                                      could repeat a side effect nobody understands)

RETRY tries the step again as its retry policy says; once the policy has no
attempt left the stage fails with the failure's type ("retries exhausted").
RETRY_QUIET waits for the breaker's open period and tries again without
spending an attempt of the policy; the runner still gives up after a bounded
number of such waits. FAIL ends the stage at once.

There is no "pause for a person" outcome: the Task aggregate has no transition
from a running stage to PAUSED other than at a completed stage's boundary. A
failed task keeps its checkpoint, so a person decides by retrying it from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from switchyard.domain.values import FailureType


class Outcome(StrEnum):
    """What to do with the step that failed."""

    RETRY = "retry"
    RETRY_QUIET = "retry_quiet"
    FAIL = "fail"


@dataclass(frozen=True)
class Decision:
    """The outcome for one failure type, and whether it says the downstream is unwell."""

    outcome: Outcome
    trips_breaker: bool


DECISIONS = MappingProxyType(
    {
        FailureType.TIMEOUT: Decision(Outcome.RETRY, trips_breaker=True),
        FailureType.IO: Decision(Outcome.RETRY, trips_breaker=True),
        FailureType.RATE_LIMITED: Decision(Outcome.RETRY, trips_breaker=True),
        FailureType.CIRCUIT_OPEN: Decision(Outcome.RETRY_QUIET, trips_breaker=False),
        FailureType.CLIENT_ERROR: Decision(Outcome.FAIL, trips_breaker=False),
        FailureType.HEALTH_CHECK: Decision(Outcome.FAIL, trips_breaker=False),
        FailureType.FATAL: Decision(Outcome.FAIL, trips_breaker=False),
        FailureType.UNKNOWN: Decision(Outcome.FAIL, trips_breaker=False),
    }
)
"""The decision for every failure type (the table in the module docstring)."""
