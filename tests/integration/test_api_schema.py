"""The OpenAPI document against the API itself, by schemathesis: for every operation,
requests generated from the document (valid and invalid, as a token holding every
scope sends them) never get a 5xx, and every answer's status, media type, headers
and body are the ones documented."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import CheckContext, not_a_server_error
from schemathesis.core.transport import Response
from schemathesis.schemas import BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.api import api_app, issue

WRITER = issue("fuzzer")


@pytest.fixture()
def api_schema(pg_env: dict[str, str]) -> Iterator[BaseSchema]:
    """The API's OpenAPI document, loaded from the app on a real event store."""
    with api_app(pg_env, WRITER, read_wait_seconds=0) as app:
        yield schemathesis.openapi.from_asgi("/openapi.json", app.asgi)


def no_server_error_but_a_stale_read(
    ctx: CheckContext, response: Response, case: schemathesis.Case
) -> bool | None:
    """No 5xx, except the documented 503 `read.stale`: no relay runs here, so the read
    tables never reach a query's `minSequence`."""
    if response.status_code == 503 and response.json().get("code") == "read.stale":
        return None
    return not_a_server_error(ctx, response, case)


CHECKS = [
    no_server_error_but_a_stale_read,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def test_every_operation_answers_as_documented(api_schema: BaseSchema) -> None:
    failures: dict[str, str] = {}
    operations = [found.ok() for found in api_schema.get_all_operations()]
    assert {"POST /v1/plans", "GET /readyz", "GET /v1/plans/{planId}", "GET /v1/audit"} <= {
        operation.label for operation in operations
    }
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
        def answers_as_documented(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=WRITER.headers, checks=CHECKS)

        try:
            answers_as_documented()
        except Exception as failure:  # every operation's failure is reported together
            failures[operation.label] = str(failure)
    assert set(failures) == set(), "\n\n".join(f"{k}: {v}" for k, v in failures.items())
