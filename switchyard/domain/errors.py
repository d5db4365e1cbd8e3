"""The one hierarchy of switchyard's errors, each with a stable machine code.

    SwitchyardError
    ├── Invalid                      invalid
    │   ├── PlanInvalid              plan.invalid
    │   ├── SettingsInvalid          settings.invalid
    │   └── RecipeInvalid            recipe.invalid
    ├── RequestUnreadable            request.unreadable
    ├── NotFound
    │   ├── PlanNotFound             plan.not_found
    │   ├── TaskNotFound             task.not_found
    │   ├── TenantNotFound           tenant.not_found
    │   └── AuditEventNotFound       audit.event_not_found
    ├── InvalidTransition            task.invalid_transition
    ├── PlanCommandRefused           plan.command_refused
    ├── NoCheckpoint                 task.no_checkpoint
    ├── TaskSuperseded               task.superseded
    ├── StaleFence                   task.stale_fence
    ├── IdempotencyKeyReused         plan.idempotency_key_reused
    ├── ConcurrentUpdate             command.conflict
    ├── StoreError
    │   ├── StoreUnavailable         store.unavailable
    │   └── StoreRefused             store.refused
    ├── BrokerUnavailable            kafka.unavailable
    ├── EmbeddedStartFailed          embedded.start_failed
    ├── ApiAddressInUse              api.address_in_use
    ├── ApiCallFailed                api.call_failed
    ├── ReadStale                    read.stale
    └── ApiError                     api.error
        ├── ApiTokenMissing          api.token_missing
        ├── ApiUnavailable           api.unavailable
        └── ApiAnswered              api.problem (printed with the problem's own code)

Context travels as keyword details; messages are for people, codes for programs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar


class SwitchyardError(Exception):
    """Base of every error switchyard raises on purpose."""

    code: ClassVar[str] = "switchyard.error"
    title: ClassVar[str] = "Switchyard error"

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.details = details
        self.message = message or self.describe(**details)
        super().__init__(self.message)

    def describe(self, **details: Any) -> str:
        """Say what went wrong from the details, for people."""
        pairs = ", ".join(f"{key}={value}" for key, value in details.items())
        return f"{self.title} ({pairs})" if pairs else self.title


@dataclass(frozen=True)
class Problem:
    """One problem found in a request: where (field path), what (code), and why."""

    field: str
    code: str
    message: str


class Invalid(SwitchyardError):
    """Input that breaks one or more rules; every problem is listed."""

    code = "invalid"
    title = "The input is invalid"

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        lines = "; ".join(f"{p.field}: {p.message} [{p.code}]" for p in self.problems)
        super().__init__(f"{self.title}: {lines}")


class PlanInvalid(Invalid):
    """The plan request breaks one or more rules; every problem is listed."""

    code = "plan.invalid"
    title = "The plan request is invalid"


class SettingsInvalid(Invalid):
    """The configuration (environment variables, `.env`) breaks one or more rules."""

    code = "settings.invalid"
    title = "The settings are invalid"


class RecipeInvalid(Invalid):
    """A service-type recipe file cannot be read or breaks a rule of recipes."""

    code = "recipe.invalid"
    title = "The service-type recipes are invalid"


class RequestUnreadable(SwitchyardError):
    """A request (or plan file) could not be read as JSON or YAML."""

    code = "request.unreadable"
    title = "The request could not be read"


class NotFound(SwitchyardError):
    """Something addressed by id does not exist."""

    code = "not_found"
    title = "Not found"


class PlanNotFound(NotFound):
    """No plan has this id."""

    code = "plan.not_found"
    title = "Plan not found"


class TaskNotFound(NotFound):
    """No task has this id."""

    code = "task.not_found"
    title = "Task not found"


class TenantNotFound(NotFound):
    """No task has ever been planned for this tenant."""

    code = "tenant.not_found"
    title = "No task for this tenant"


class AuditEventNotFound(NotFound):
    """The audit trail has no event with this sequence (or the read tables are behind)."""

    code = "audit.event_not_found"
    title = "No audit event with this sequence"


class InvalidTransition(SwitchyardError):
    """The task's status does not allow this command; nothing was recorded."""

    code = "task.invalid_transition"
    title = "Command not allowed in the task's status"


class PlanCommandRefused(SwitchyardError):
    """No task of the plan accepts this plan-wide command; nothing was recorded."""

    code = "plan.command_refused"
    title = "No task of the plan accepts the command"


class NoCheckpoint(SwitchyardError):
    """A retry from checkpoint was asked for, but no completed stage can be kept."""

    code = "task.no_checkpoint"
    title = "The task has no checkpoint to retry from"


class TaskSuperseded(SwitchyardError):
    """A newer task of the tenant has started: retrying or rolling back this one would
    put the tenant back on an older version; nothing was recorded."""

    code = "task.superseded"
    title = "A newer task of the tenant has started"


class StaleFence(SwitchyardError):
    """A worker wrote under a fencing token that is no longer the task's."""

    code = "task.stale_fence"
    title = "The worker's lease was taken over"


class IdempotencyKeyReused(SwitchyardError):
    """The idempotency key was first used for a different plan request."""

    code = "plan.idempotency_key_reused"
    title = "Idempotency key already used for another request"


class ConcurrentUpdate(SwitchyardError):
    """Others kept changing the same aggregate; the command gave up after retrying."""

    code = "command.conflict"
    title = "Concurrent update, please retry"


class StoreError(SwitchyardError):
    """The event store could not do what was asked."""

    code = "store.error"
    title = "Event store error"


class StoreUnavailable(StoreError):
    """The event store cannot be reached."""

    code = "store.unavailable"
    title = "The event store is unavailable"


class StoreRefused(StoreError):
    """The event store refused a read or write."""

    code = "store.refused"
    title = "The event store refused the operation"


class BrokerUnavailable(SwitchyardError):
    """There is no Kafka broker to read from."""

    code = "kafka.unavailable"
    title = "No Kafka broker is available"


class EmbeddedStartFailed(SwitchyardError):
    """An embedded server (Redis, the Kafka-protocol broker) did not start."""

    code = "embedded.start_failed"
    title = "An embedded server did not start"


class ApiAddressInUse(SwitchyardError):
    """The API's listen address is taken by another process."""

    code = "api.address_in_use"
    title = "The API's address is already in use"


class ApiCallFailed(SwitchyardError):
    """A call to switchyard's HTTP API failed: no answer, or an error status."""

    code = "api.call_failed"
    title = "A call to the switchyard API failed"


class ReadStale(SwitchyardError):
    """The read tables did not reflect the asked sequence within the wait."""

    code = "read.stale"
    title = "The read tables do not reflect that sequence yet"


class ApiError(SwitchyardError):
    """The API a client talks to gave an answer the client cannot read."""

    code = "api.error"
    title = "The API gave an unexpected answer"


class ApiTokenMissing(ApiError):
    """A client asked to talk to the API has no token to present."""

    code = "api.token_missing"
    title = "No API token (set SWITCHYARD_TOKEN)"


class ApiUnavailable(ApiError):
    """The API a client talks to cannot be reached (refused, timed out, name unknown)."""

    code = "api.unavailable"
    title = "The API cannot be reached"


class ApiAnswered(ApiError):
    """The API answered with a problem whose code is none of this hierarchy's; the problem's
    own code (`problem_code`, such as `auth.unauthenticated`) is what a client shows."""

    code = "api.problem"
    title = "The API refused the request"

    def __init__(self, problem_code: str, detail: str, problems: Sequence[Problem] = ()) -> None:
        self.problem_code = problem_code
        self.problems = tuple(problems)
        super().__init__(detail, code=problem_code)


def all_error_classes() -> list[type[SwitchyardError]]:
    """List every error class of the hierarchy, the base included."""
    found: list[type[SwitchyardError]] = []
    pending: list[type[SwitchyardError]] = [SwitchyardError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found
