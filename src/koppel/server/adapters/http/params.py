"""The bounds of path and query parameters, shared by the API routes and the portal pages.

Stated in the signatures, so that FastAPI refuses what is out of range with
``validation_error`` before any work, and the OpenAPI document tells clients the range.
Row ids are SQL BIGINTs: a number past 2**63 - 1 can name nothing, and the database
driver would fail on it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Path, Query
from pydantic import AfterValidator, WithJsonSchema

from koppel.protocol.api import ENVIRONMENT_CODE_PATTERN

MAX_ID = 2**63 - 1


def _utc(value: datetime) -> datetime:
    """``value`` in UTC (a time without an offset is taken as UTC); a moment before the
    first or after the last representable UTC time becomes that first or last one, so a
    filter at the ends of the calendar keeps its meaning instead of failing."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        edge = datetime.min if value.year == datetime.min.year else datetime.max
        return edge.replace(tzinfo=UTC)


EnvCode = Annotated[
    str,
    Path(
        pattern=ENVIRONMENT_CODE_PATTERN,
        description="An environment code, e.g. F10001 (compared in upper case).",
    ),
]
# A login as names.login accepts it (compared in lower case).
Login = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$", description="A user's login.")
]
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
VersionNumber = Annotated[int | None, Query(ge=1, le=MAX_ID)]
Offset = Annotated[int, Query(ge=0, le=MAX_ID)]
Moment = Annotated[datetime, AfterValidator(_utc)]


def page_number(page_size: int) -> object:
    """A ``page`` query parameter (1, 2, ...) whose offset ``(page - 1) * page_size`` is
    still a valid SQL offset."""
    return Query(ge=1, le=MAX_ID // page_size)


def header_text(pattern: str | None = None) -> WithJsonSchema:
    """The document's schema of an optional header: a string, never ``null`` (which
    FastAPI would state for ``str | None``, and a header cannot be)."""
    schema: dict[str, str] = {"type": "string"}
    if pattern:
        schema["pattern"] = pattern
    return WithJsonSchema(schema)
