"""Every error as RFC 9457 problem details (`application/problem+json`) with a stable code.

Domain errors map to a 4xx (or 503 when a server behind is down) by their class;
request validation to 422 with each field's path and code in `errors`; unknown
routes and methods to 404 and 405; an oversized body to 413. An unexpected error
answers 500 with an error id that is also in the log beside the traceback, and
never the traceback itself.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.types import Scope, Send

from switchyard.adapters.api.request_log import HEADER, current_request_id
from switchyard.adapters.postgres.persistence import map_store_error
from switchyard.domain import errors as domain

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
"""The media type of every error response."""

STATUS: list[tuple[type[domain.SwitchyardError], int]] = [
    (domain.NotFound, 404),
    (domain.Invalid, 422),
    (domain.IdempotencyKeyReused, 422),
    (domain.RequestUnreadable, 400),
    (domain.InvalidTransition, 409),
    (domain.PlanCommandRefused, 409),
    (domain.NoCheckpoint, 409),
    (domain.TaskSuperseded, 409),
    (domain.StaleFence, 409),
    (domain.ConcurrentUpdate, 409),
    (domain.StoreUnavailable, 503),
    (domain.ReadStale, 503),
    (domain.BrokerUnavailable, 503),
]
"""The HTTP status of each domain error class (the first that matches); else 500."""

HTTP_CODES = {
    400: ("request.malformed", "The request is malformed"),
    401: ("auth.unauthenticated", "A valid bearer token is required"),
    403: ("auth.forbidden", "The token lacks the scope this needs"),
    404: ("route.not_found", "No such resource"),
    405: ("route.method_not_allowed", "Method not allowed on this resource"),
    409: ("request.conflict", "The request conflicts with one in flight"),
    413: ("request.too_large", "The request body is too large"),
    415: ("request.unsupported_media_type", "The body must be JSON"),
    422: ("request.invalid", "The request is invalid"),
    429: ("request.too_many", "Too many requests of this kind at once"),
}
"""The code and title of each plain HTTP error."""


class FieldProblem(BaseModel):
    """One invalid field of a request: its path, code and message."""

    field: str = Field(examples=["tenants[0].targetVersion"])
    code: str = Field(examples=["required"])
    message: str


class ProblemOut(BaseModel):
    """An error, as RFC 9457 problem details with the service's stable `code`."""

    type: str = Field(examples=["urn:switchyard:problem:plan.not_found"])
    title: str
    status: int
    detail: str
    code: str = Field(examples=["plan.not_found"])
    instance: str
    errors: list[FieldProblem] | None = Field(
        default=None, description="For invalid requests: every problem, by field path."
    )
    errorId: str | None = Field(
        default=None, description="For unexpected errors: the id the log gives it too."
    )


DOCUMENTED: dict[int | str, dict[str, Any]] = {
    status: {"model": ProblemOut, "description": title}
    for status, (_, title) in {
        **HTTP_CODES,
        500: ("internal", "Unexpected error (its id is in the log)"),
        503: ("store.unavailable", "A server behind the API is down or behind; retry"),
    }.items()
}
"""The problems every route may answer, for its OpenAPI document."""


def problems_as_problem_json(openapi: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document with every 4xx and 5xx answer's content as problem+json."""
    for operations in openapi.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status[:1] in "45" and "application/json" in content:
                    response["content"] = {MEDIA_TYPE: content["application/json"]}
    return openapi


class ApiProblem(Exception):
    """An HTTP error raised by the API itself, with its status, code, title and detail."""

    def __init__(
        self,
        status: int,
        detail: str,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        self.status = status
        self.code = code or HTTP_CODES.get(status, ("request.error", ""))[0]
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra
        super().__init__(detail)


def problem(
    request: Request,
    status: int,
    code: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem-details response."""
    body = {
        "type": f"urn:switchyard:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "instance": request.url.path,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


async def send_problem(
    scope: Scope,
    send: Send,
    status: int,
    code: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
) -> None:
    """Send a problem-details response from ASGI middleware, below the exception handlers."""
    content = {
        "type": f"urn:switchyard:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "instance": scope.get("path", ""),
    }
    body = json.dumps(content).encode()
    sent = [(b"content-type", MEDIA_TYPE.encode()), (b"content-length", b"%d" % len(body))]
    sent += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": sent})
    await send({"type": "http.response.body", "body": body})


def status_of(exc: domain.SwitchyardError) -> int:
    """The HTTP status of a domain error."""
    return next((status for cls, status in STATUS if isinstance(exc, cls)), 500)


def field_errors(problems: Sequence[domain.Problem]) -> list[dict[str, str]]:
    """Validation problems as `errors` entries: field path, code, message."""
    return [{"field": p.field, "code": p.code, "message": p.message} for p in problems]


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, domain.SwitchyardError)
    status = status_of(exc)
    if status >= 500 and not isinstance(exc, domain.StoreUnavailable | domain.ReadStale):
        return await _unexpected(request, exc)
    extra: dict[str, Any] = {}
    if isinstance(exc, domain.Invalid):
        extra["errors"] = field_errors(exc.problems)
    headers = {"Retry-After": "1"} if status == 503 else None
    return problem(request, status, exc.code, exc.title, exc.message, headers, **extra)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    found = [
        {
            "field": _path(error.get("loc", ())),
            "code": str(error.get("type", "invalid")),
            "message": str(error.get("msg", "")),
        }
        for error in exc.errors()
    ]
    malformed = any(e["code"] == "json_invalid" for e in found)
    status = 400 if malformed else 422
    code, title = HTTP_CODES[status]
    detail = "the body is not valid JSON" if malformed else "the request has invalid fields"
    return problem(request, status, code, title, detail, errors=found)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code, title = HTTP_CODES.get(exc.status_code, ("request.error", "Request error"))
    detail = exc.detail if isinstance(exc.detail, str) else title
    return problem(request, exc.status_code, code, title, detail, dict(exc.headers or {}))


async def _api_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiProblem)
    _, title = HTTP_CODES.get(exc.status, ("", "Request error"))
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
    headers.update(exc.headers)
    return problem(request, exc.status, exc.code, title, exc.detail, headers, **exc.extra)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    unavailable = map_store_error(exc)
    if isinstance(unavailable, domain.StoreUnavailable):  # raised where no route mapped it
        log.warning("%s %s: %s", request.method, request.url.path, unavailable.message)
        return await _domain_error(request, unavailable)
    error_id = uuid.uuid4().hex
    log.error(
        "unexpected error %s on %s %s",
        error_id,
        request.method,
        request.url.path,
        exc_info=exc,
        extra={"error_id": error_id},
    )
    found = current_request_id()  # sent from outside the request-log middleware
    return problem(
        request,
        500,
        "internal",
        "Internal error",
        f"an unexpected error happened; quote error id {error_id}",
        None if found is None else {HEADER: found},
        errorId=error_id,
    )


def _path(location: Sequence[Any]) -> str:
    """A field path like `tenants[0].endpoints[1]` from pydantic's location."""
    parts = [p for p in location if p not in ("body", "query", "path", "header")]
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or ".".join(map(str, location))


def install(app: FastAPI) -> None:
    """Register the problem-details handlers on the app."""
    app.add_exception_handler(domain.SwitchyardError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(ApiProblem, _api_problem)
    app.add_exception_handler(Exception, _unexpected)
