"""The query parameters the API's GET routes share: `minSequence`, a bounded `limit`,
and plain-text filters.

A page holds at most API_MAX_PAGE rows: a larger `limit` is a 422 naming the field,
like every invalid parameter. Filters are printable text (no control characters,
which PostgreSQL cannot store), and times without a zone are UTC, as in the CLI.
"""

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Query

from switchyard.adapters.api.deps import Services
from switchyard.adapters.api.problems import ApiProblem

LARGEST_SEQUENCE = 2**63 - 1
"""The largest sequence the store can hold (a PostgreSQL bigint)."""

PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
"""Text without control characters."""

MinSequence = Annotated[
    int | None,
    Query(
        alias="minSequence",
        ge=1,
        le=LARGEST_SEQUENCE,
        description="Answer only once the read tables reflect this sequence (a command's"
        " `sequence`), waiting up to SWITCHYARD_READ_WAIT_SECONDS; else 503 `read.stale`.",
        examples=[1042],
    ),
]
"""A route parameter: the sequence the read tables must reflect first."""


def text_query(description: str, example: str, alias: str | None = None) -> Any:
    """A query parameter of printable text, up to 255 characters."""
    return Query(
        alias=alias,
        max_length=255,
        pattern=PRINTABLE,
        description=description,
        examples=[example],
    )


async def page_limit(
    parts: Services,
    limit: Annotated[
        int | None,
        Query(
            ge=1, description="Rows per page (at most API_MAX_PAGE; default 100).", examples=[50]
        ),
    ] = None,
) -> int:
    """The page size asked, if the settings allow it (422 on `limit` otherwise)."""
    largest = parts.settings.api_max_page
    if limit is None:
        return min(100, largest)
    if limit > largest:
        message = f"Input should be less than or equal to {largest}"
        raise invalid_field("limit", "less_than_equal", message)
    return limit


def invalid_field(field: str, code: str, message: str) -> ApiProblem:
    """A 422 problem naming one invalid parameter, as request validation answers."""
    errors = [{"field": field, "code": code, "message": message}]
    return ApiProblem(422, "the request has invalid fields", errors=errors)


Limit = Annotated[int, Depends(page_limit)]
"""A route parameter: the page size, at most API_MAX_PAGE."""


def utc(value: datetime | None) -> datetime | None:
    """The time, in UTC if it names no zone."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
