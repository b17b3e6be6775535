"""Refusals as JSON ``ErrorBody`` responses with the HTTP status each code maps to."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import fastapi.routing
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from koppel.i18n import N_
from koppel.i18n import gettext as _
from koppel.protocol.device import DEVICE_PREFIX
from koppel.protocol.errors import ErrorBody, ErrorCode, ErrorDetail
from koppel.protocol.updates import UPDATE_HEADER
from koppel.server.adapters.http.oauth_errors import invalid_parameter
from koppel.server.domain.errors import DomainError
from koppel.server.domain.transfer.extensions import ExtensionNotAllowed

# What to say when a request lacks a required header (names in lower case).
# Marked with N_: translated per request where used (the server speaks each request's language).
MISSING_HEADER = {
    UPDATE_HEADER.lower(): N_("Send the agent's update in the {header} header (e.g. 2026.2)."),
    "if-match": N_(
        "Name the version you edited in If-Match (its ETag), so that nobody's "
        "changes are overwritten."
    ),
}

# Refusals of a request's token, counted apart (koppel_token_failures_total).
TOKEN_FAILURES = frozenset(
    {
        ErrorCode.TOKEN_MISSING,
        ErrorCode.TOKEN_INVALID,
        ErrorCode.TOKEN_REVOKED,
        ErrorCode.TOKEN_WRONG_ENVIRONMENT,
    }
)

STATUS: dict[ErrorCode, int] = {
    ErrorCode.VALIDATION_ERROR: 400,
    ErrorCode.SETTINGS_TAMPERED: 400,
    ErrorCode.INVALID_CREDENTIALS: 401,
    ErrorCode.TOKEN_MISSING: 401,
    ErrorCode.TOKEN_INVALID: 401,
    ErrorCode.TOKEN_REVOKED: 401,
    ErrorCode.ACCOUNT_DISABLED: 403,
    ErrorCode.NOT_A_MEMBER: 403,
    ErrorCode.NOT_AUTHORIZED: 403,
    ErrorCode.CONNECTOR_BLOCKED: 403,
    ErrorCode.TOKEN_WRONG_ENVIRONMENT: 403,
    ErrorCode.NOT_A_FIRM: 403,
    ErrorCode.UNKNOWN_ENVIRONMENT: 404,
    ErrorCode.ENROLLMENT_UNKNOWN: 404,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.UPDATE_MISMATCH: 409,
    ErrorCode.ENROLLMENT_USED: 409,
    ErrorCode.MAIN_SITE_MISSING: 409,
    ErrorCode.API_URL_MISSING: 409,
    ErrorCode.ADDRESS_UNKNOWN: 409,
    ErrorCode.UPDATE_UNSUPPORTED: 409,
    ErrorCode.SETTINGS_OUTDATED: 409,
    ErrorCode.ENROLLMENT_EXPIRED: 410,
    ErrorCode.INSTALLATION_UNAVAILABLE: 503,
    ErrorCode.TOO_LARGE: 413,
    ErrorCode.UPLOAD_INCOMPLETE: 409,
    ErrorCode.FILE_NOT_READY: 409,
    ErrorCode.CHECKSUM_MISMATCH: 460,  # tus checksum extension
    ErrorCode.UPLOAD_EXPIRED: 410,
    ErrorCode.OFFSET_MISMATCH: 409,
    ErrorCode.UNSAFE_NAME: 400,
    ErrorCode.EMPTY_FILE: 400,
    ErrorCode.EXTENSION_NOT_ALLOWED: 415,
    ErrorCode.VERSION_CONFLICT: 412,
    ErrorCode.NOT_EDITABLE: 403,
    ErrorCode.RANGE_NOT_SATISFIABLE: 416,
    ErrorCode.INTERNAL_ERROR: 500,
    ErrorCode.ACCOUNT_LOCKED: 429,
    ErrorCode.TOO_MANY_ATTEMPTS: 429,
    ErrorCode.NO_PORTAL_ACCESS: 403,
    ErrorCode.NO_PORTAL: 404,
    ErrorCode.SIGN_IN_REQUIRED: 401,
    ErrorCode.CSRF_FAILED: 403,
    ErrorCode.SECOND_FACTOR_INVALID: 401,
    ErrorCode.SECOND_FACTOR_REQUIRED: 403,
    ErrorCode.DEVICE_CODE_INVALID: 404,
    ErrorCode.NO_DESTINATIONS: 409,
    ErrorCode.NO_ITEM_TYPES: 409,
    ErrorCode.INVALID_EMAIL: 400,
    ErrorCode.RESET_LINK_INVALID: 404,
    ErrorCode.RESET_LINK_USED: 409,
    ErrorCode.RESET_LINK_EXPIRED: 410,
}

# The OpenAPI "responses" of every route that can refuse.
ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorBody, "description": "Refused; see `code` and `message`."}
    for status in sorted(set(STATUS.values()))
}


def printable(text: str) -> str:
    """``text`` with what UTF-8 cannot carry (lone surrogates, from JSON escapes such as
    ``"\\ud800"``) replaced: a refusal that quotes bad input must still be sent."""
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def _printable(text: str | None) -> str | None:
    return None if text is None else printable(text)


def error_response(error: DomainError) -> JSONResponse:
    """The JSON response for a domain refusal."""
    body = ErrorBody(
        code=error.code,
        message=printable(error.message),
        environment=_printable(error.environment),
        details=[
            ErrorDetail(
                code=d.code, message=printable(d.message), environment=_printable(d.environment)
            )
            for d in error.details
        ],
        allowed_extensions=(
            list(error.allowed) if isinstance(error, ExtensionNotAllowed) else None
        ),
    )
    headers = {"WWW-Authenticate": "Bearer"} if STATUS[error.code] == 401 else None
    return JSONResponse(body.model_dump(mode="json"), STATUS[error.code], headers=headers)


def install_handlers(app: FastAPI) -> None:
    """Answer every failure with an ``ErrorBody``, never an HTML page or a bare detail."""

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        if exc.code in TOKEN_FAILURES:
            request.app.state.metrics.token_failures.labels(exc.code.value).inc()
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        loc = tuple(str(p).lower() for p in first.get("loc", ()))
        if request.url.path.startswith(DEVICE_PREFIX):
            # The device authorization endpoints speak OAuth 2.0, malformed requests too.
            return invalid_parameter(loc[-1] if loc else "request", str(first.get("msg")))
        if first.get("type") == "missing" and loc[:1] == ("header",) and loc[1:]:
            hint = missing_header(loc[1], str(first["loc"][1]))
            return error_response(DomainError(ErrorCode.VALIDATION_ERROR, hint))
        where = ".".join(str(p) for p in first.get("loc", ()))
        return error_response(
            DomainError(
                ErrorCode.VALIDATION_ERROR,
                _(
                    "The request is not valid ({where}: {problem}). Check the agent version; "
                    "update the agent if this keeps happening."
                ).format(where=where, problem=first.get("msg")),
            )
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = ErrorCode.NOT_FOUND if exc.status_code == 404 else ErrorCode.VALIDATION_ERROR
        message, headers = http_refusal(request, exc)
        body = ErrorBody(code=code, message=message)
        return JSONResponse(body.model_dump(mode="json"), exc.status_code, headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        if out_of_range(exc):
            # A safety net only: inputs are bounded where they enter (params.py). Starlette
            # still logs the traceback after this answer, so the missing bound gets fixed.
            limit = 2**63 - 1
            message = _(OUT_OF_RANGE).format(limit=limit)
            return error_response(DomainError(ErrorCode.VALIDATION_ERROR, message))
        body = ErrorBody(
            code=ErrorCode.INTERNAL_ERROR,
            message=_(
                "The server failed unexpectedly; try again, and tell your administrator "
                "if it persists (details are in the server log)."
            ),
        )
        return JSONResponse(body.model_dump(mode="json"), 500)


OUT_OF_RANGE = N_(
    "A number or date in the request is out of range; check the request (ids are at most {limit})."
)


def missing_header(name: str, shown: str) -> str:
    """What to say when a request lacks the header ``name`` (lower case; ``shown`` as the
    request named it), in the request's language."""
    hint = MISSING_HEADER.get(name)
    if hint is None:
        return _("Send the {header} header.").format(header=shown)
    return _(hint).format(header=UPDATE_HEADER)


def out_of_range(exc: BaseException) -> bool:
    """Whether ``exc`` is a number or date too large for the database (an OverflowError,
    also when the database layer wrapped it)."""
    seen: BaseException | None = exc
    for _attempt in range(5):
        if seen is None:
            return False
        if isinstance(seen, OverflowError):
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False


def _all_routes(app: Any) -> Iterable[Any]:
    # FastAPI >= 0.160 keeps included routers whole; it flattens them for its own
    # OpenAPI document with ``iter_route_contexts``. Older releases have flat routes.
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)
    return flatten(app.routes) if flatten else app.routes  # type: ignore[no-any-return]


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app answers on this request's path (Starlette
    names only those of the first route whose path matches)."""
    found: set[str] = set()
    for route in _all_routes(request.app):
        methods, pattern = getattr(route, "methods", None), getattr(route, "path_regex", None)
        if methods and pattern is not None and pattern.match(request.url.path):
            found |= set(methods)
    return sorted(found)


def http_refusal(
    request: Request, exc: StarletteHTTPException
) -> tuple[str, dict[str, str] | None]:
    """The message and headers of a refusal by the router itself (no such path, method
    not allowed): a 405 names the methods the path takes, also in ``Allow`` (RFC 9110)."""
    headers = dict(exc.headers or {})
    message = str(exc.detail)
    if exc.status_code == 404:
        # The router's own "Not Found": no such path on this server.
        message = _("There is nothing at this address on the server; check the address.")
    elif exc.status_code == 405:
        allowed = allowed_methods(request) or headers.get("Allow", "").split(", ")
        headers["Allow"] = ", ".join(allowed)
        message = _("{method} is not allowed here; use {allowed}.").format(
            method=request.method, allowed=" or ".join(allowed)
        )
    return message, headers or None
