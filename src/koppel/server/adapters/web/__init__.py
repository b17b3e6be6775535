"""The web portal ("InSite"): server-rendered pages for users and administrators.

One module per page group; ``install`` adds them all, the stylesheet and the security
headers to the app, and makes refusals on portal paths HTML pages instead of JSON.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from koppel.i18n import gettext as _
from koppel.protocol.device import VERIFICATION_PATH
from koppel.protocol.errors import ErrorCode
from koppel.server.adapters.http.errors import http_refusal
from koppel.server.adapters.web import (
    admin_pages,
    auth_pages,
    communication_pages,
    device_approval_pages,
    device_pages,
    dossier_pages,
    files_pages,
    frame_pages,
    home_pages,
    password_reset_pages,
    profile_pages,
    second_factor_pages,
)
from koppel.server.adapters.web.context import Redirect
from koppel.server.adapters.web.pages import error_page, redirect
from koppel.server.adapters.web.security_headers import SecurityHeaders
from koppel.server.adapters.web.templating import TEMPLATES
from koppel.server.domain.errors import DomainError

ASSETS = TEMPLATES.parent / "assets"
_ROUTERS = (
    auth_pages, home_pages, second_factor_pages, communication_pages, device_pages,
    files_pages, dossier_pages, admin_pages, device_approval_pages, frame_pages,
    password_reset_pages, profile_pages,
)  # fmt: skip

Handler = Callable[[Request, Exception], Awaitable[Response]]


def _on_portal(request: Request) -> bool:
    path = request.url.path
    return (
        path.startswith("/portal/")
        or path == VERIFICATION_PATH
        or path.startswith(f"{VERIFICATION_PATH}/")
    )


def _wants_page(request: Request) -> bool:
    # A browser that asks for an address outside the portal and the API (a mistyped one)
    # reads a page in its language, not JSON; agents and scripts keep their JSON.
    path = request.url.path
    if path.startswith("/api/"):
        return False
    return _on_portal(request) or "text/html" in request.headers.get("accept", "")


def install(app: FastAPI) -> None:
    """Add the portal to the agent API app (call after the API's error handlers)."""
    for module in _ROUTERS:
        app.include_router(module.router, include_in_schema=False)
    app.mount("/assets", StaticFiles(directory=ASSETS), name="assets")
    app.add_middleware(SecurityHeaders)

    def html_first(kind: type[Exception], html: Callable[[Request, Exception], Response]) -> None:
        api: Handler = app.exception_handlers[kind]  # type: ignore[assignment]

        async def handler(request: Request, exc: Exception) -> Response:
            return html(request, exc) if _wants_page(request) else await api(request, exc)

        app.add_exception_handler(kind, handler)

    html_first(DomainError, _refusal)
    html_first(RequestValidationError, _invalid_form)
    html_first(StarletteHTTPException, _http_error)
    app.add_exception_handler(Redirect, _redirect)


def _refusal(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    return error_page(request, exc)


def _invalid_form(request: Request, _exc: Exception) -> Response:
    if request.method in ("GET", "HEAD"):
        # A number or date of the address out of range: typed or edited by hand.
        message = _(
            "The address of this page is not valid (a number or date in it is out of range); "
            "go back and follow a link of the portal."
        )
    else:
        message = _("The form is incomplete or not valid; go back and fill in every field.")
    return error_page(request, DomainError(ErrorCode.VALIDATION_ERROR, message), 400)


async def _redirect(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Redirect)
    return redirect(exc.url)


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    code = ErrorCode.NOT_FOUND if status == 404 else ErrorCode.VALIDATION_ERROR
    message, headers = http_refusal(request, exc)
    if status == 404:
        message = _("There is no such page on this portal.")
    page = error_page(request, DomainError(code, message), status)
    page.headers.update(headers or {})
    return page
