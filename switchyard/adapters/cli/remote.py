"""The CLI against a running API (`switchyard --api URL ...`): each command's route, over httpx.

The token is SWITCHYARD_TOKEN (its actor is recorded, so `--actor` does not apply).
Answers are read into the API's models, which the commands print as they print what
they read locally. A problem answer raises the error of its `code` (with its field
problems), so it prints like the same error met locally; a connection that fails is
`api.unavailable`, naming the URL, and an answer that is no problem and no model is
`api.error`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

import httpx
import typer
from pydantic import BaseModel, ValidationError

from switchyard.adapters.api.schemas import ActionBody, RecordedOut
from switchyard.domain import errors
from switchyard.domain.errors import ApiAnswered, ApiError, ApiTokenMissing, ApiUnavailable

M = TypeVar("M", bound=BaseModel)

TOKEN_VARIABLE = "SWITCHYARD_TOKEN"
"""The environment variable holding the bearer token presented to the API."""

TIMEOUT_SECONDS = 60.0
"""How long a request may take (a query given --min-sequence waits on the server)."""

TRANSPORT_ERRORS: dict[type[Exception], type[ApiError]] = {
    httpx.RequestError: ApiError,
    httpx.TransportError: ApiUnavailable,
    httpx.UnsupportedProtocol: ApiError,
    httpx.InvalidURL: ApiError,
}
"""httpx's exceptions as switchyard's errors: the entry of the most specific class wins.
A transport that fails (refused, timed out, name unknown, cut) is `api.unavailable`; a
URL httpx cannot use, or an answer it cannot read, is `api.error`."""


API_URL: ContextVar[str | None] = ContextVar("API_URL", default=None)
"""The API this command line names (`--api` or SWITCHYARD_API), set by the CLI's callback."""


def remote(actor: str | None = None) -> RemoteApi | None:
    """A client of the API the command line names, or None to work on the database."""
    url = API_URL.get()
    if url is None:
        return None
    if actor is not None:
        raise typer.BadParameter("with --api the actor is the token's; leave out --actor")
    token = os.environ.get(TOKEN_VARIABLE)
    if not token:
        raise ApiTokenMissing(f"--api {url} needs a token in {TOKEN_VARIABLE}", url=url)
    return RemoteApi(url, token)


def unavailable_with(option: str) -> typer.BadParameter:
    """The usage error of an option the API has no parameter for."""
    return typer.BadParameter(f"{option} is not available with --api")


def map_transport_error(exc: Exception, url: str) -> ApiError | None:
    """The error for an httpx exception (None if it is none of the table's)."""
    for cls in type(exc).__mro__:
        if cls in TRANSPORT_ERRORS:
            error = TRANSPORT_ERRORS[cls]
            said = (
                "cannot reach the API at" if error is ApiUnavailable else "cannot use the API URL"
            )
            return error(f"{said} {url}: {exc}", url=url)
    return None


class RemoteApi:
    """A client of the API's routes, answering the API's models."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        with self._transport_errors():
            self._client = httpx.Client(
                base_url=url,
                headers={"Authorization": f"Bearer {token}"},
                timeout=TIMEOUT_SECONDS,
            )

    def get(self, model: type[M], path: str, **params: Any) -> M:
        """GET a route (parameters that are None left out) and read its answer as `model`."""
        return self._model(model, self.request("GET", path, params=_given(params)))

    def get_json(self, path: str, **params: Any) -> Any:
        """GET a route whose answer is JSON of no model (parameters that are None left out)."""
        response = self.request("GET", path, params=_given(params))
        try:
            return response.json()
        except ValueError as exc:
            raise self._unreadable(response, "JSON") from exc

    def post(self, model: type[M], path: str, body: Any, key: str | None = None) -> M:
        """POST a JSON body (with an Idempotency-Key if given); its answer as `model`."""
        headers = {} if key is None else {"Idempotency-Key": key}
        return self._model(model, self.request("POST", path, json=body, headers=headers))

    def steer(
        self, target: str, action: str, reason: str | None, from_checkpoint: bool = True
    ) -> RecordedOut:
        """Ask `plans/ID`, `tasks/ID` or `tenants/ID` for an action; what it recorded."""
        body = ActionBody(reason=reason, from_checkpoint=from_checkpoint)
        path = f"/v1/{target}/actions/{action}"
        return self.post(RecordedOut, path, body.model_dump(mode="json", by_alias=True))

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send a request; the response if it succeeded, else the error its problem names."""
        with self._transport_errors():
            response = self._client.request(method, path, **kwargs)
        if response.is_success:
            return response
        raise problem_error(response)

    @contextmanager
    def _transport_errors(self) -> Iterator[None]:
        try:
            yield
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            mapped = map_transport_error(exc, self.url)
            if mapped is None:
                raise
            raise mapped from exc

    def _model(self, model: type[M], response: httpx.Response) -> M:
        try:
            return model.model_validate(response.json())
        except (ValueError, ValidationError) as exc:
            raise self._unreadable(response, model.__name__) from exc

    def _unreadable(self, response: httpx.Response, what: str) -> ApiError:
        """The error of a successful answer that is not the `what` expected."""
        return ApiError(
            f"{response.request.method} {response.request.url} answered "
            f"{response.status_code} with no {what}",
            url=self.url,
        )


def _given(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


def problem_error(response: httpx.Response) -> errors.SwitchyardError:
    """The error an unsuccessful answer stands for: its problem's, or `api.error`."""
    try:
        body = response.json()
        code, detail = str(body["code"]), str(body.get("detail") or body.get("title", ""))
    except (ValueError, KeyError, TypeError):
        return ApiError(
            f"{response.request.method} {response.request.url} answered "
            f"{response.status_code} {response.reason_phrase} and no problem details",
            status=response.status_code,
        )
    problems = [
        errors.Problem(str(p.get("field", "")), str(p.get("code", "")), str(p.get("message", "")))
        for p in body.get("errors") or []
        if isinstance(p, dict)
    ]
    return known_error(code, detail, problems) or ApiAnswered(code, detail, problems)


def known_error(
    code: str, detail: str, problems: list[errors.Problem]
) -> errors.SwitchyardError | None:
    """The hierarchy's error of this code, as if raised here (None if no class has it)."""
    found = next((c for c in errors.all_error_classes() if c.code == code), None)
    if found is None or found is ApiAnswered:
        return None
    if issubclass(found, errors.Invalid):
        made: errors.SwitchyardError = found(problems)
        made.message = detail
        return made
    return found(detail)
