"""Refusals as JSON ``ErrorBody`` responses with the HTTP status each code maps to."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from koppel.protocol.errors import ErrorBody, ErrorCode, ErrorDetail
from koppel.server.domain.errors import DomainError
from koppel.server.domain.extensions import ExtensionNotAllowed

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
    ErrorCode.UPDATE_UNSUPPORTED: 409,
    ErrorCode.ENROLLMENT_EXPIRED: 410,
    ErrorCode.INSTALLATION_UNAVAILABLE: 503,
    ErrorCode.TOO_LARGE: 413,
    ErrorCode.UPLOAD_INCOMPLETE: 409,
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
}

# The OpenAPI "responses" of every route that can refuse.
ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorBody, "description": "Refused; see `code` and `message`."}
    for status in sorted(set(STATUS.values()))
}


def error_response(error: DomainError) -> JSONResponse:
    """The JSON response for a domain refusal."""
    body = ErrorBody(
        code=error.code,
        message=error.message,
        environment=error.environment,
        details=[
            ErrorDetail(code=d.code, message=d.message, environment=d.environment)
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
    async def _domain(_request: Request, exc: DomainError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return error_response(
            DomainError(
                ErrorCode.VALIDATION_ERROR,
                f"The request is not valid ({where}: {first.get('msg')}). Check the agent "
                "version; update the agent if this keeps happening.",
            )
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = ErrorCode.NOT_FOUND if exc.status_code == 404 else ErrorCode.VALIDATION_ERROR
        body = ErrorBody(code=code, message=str(exc.detail))
        return JSONResponse(body.model_dump(mode="json"), exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, _exc: Exception) -> JSONResponse:
        body = ErrorBody(
            code=ErrorCode.INTERNAL_ERROR,
            message="The server failed unexpectedly; try again, and tell your administrator "
            "if it persists (details are in the server log).",
        )
        return JSONResponse(body.model_dump(mode="json"), 500)
