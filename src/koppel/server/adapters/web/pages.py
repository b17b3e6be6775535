"""Error pages: a portal refusal is a page that says what happened and what to do."""

from __future__ import annotations

from datetime import date

from fastapi import Request, Response
from fastapi.responses import RedirectResponse
from markupsafe import escape

from koppel.i18n import N_
from koppel.i18n import gettext as _
from koppel.protocol.errors import ErrorCode
from koppel.server.adapters.http.errors import STATUS
from koppel.server.adapters.web import context as ctx
from koppel.server.adapters.web.context import PortalUser
from koppel.server.adapters.web.templating import render
from koppel.server.domain.errors import DomainError

TITLES: dict[ErrorCode, str] = {
    ErrorCode.NOT_FOUND: N_("Not found"),
    ErrorCode.UNKNOWN_ENVIRONMENT: N_("Unknown environment"),
    ErrorCode.NO_PORTAL: N_("No portal here"),
    ErrorCode.CSRF_FAILED: N_("The form expired"),
    ErrorCode.NOT_AUTHORIZED: N_("Not authorized"),
    ErrorCode.CONNECTOR_BLOCKED: N_("App connector blocked"),
    ErrorCode.MAIN_SITE_MISSING: N_("Main site missing"),
    ErrorCode.TOO_LARGE: N_("File too large"),
    ErrorCode.EXTENSION_NOT_ALLOWED: N_("File type not accepted"),
}


class Later:
    """A message translated when the page shows it, in the page's language (the frame may
    choose another language than the request's ``Accept-Language``)."""

    def __init__(self, message: str) -> None:
        self.message = message

    def __str__(self) -> str:
        return _(self.message)

    def __html__(self) -> str:
        return str(escape(str(self)))


def portal_code(request: Request) -> str | None:
    """The portal a request is for, from its path (``/portal/CODE/...``)."""
    parts = request.url.path.split("/")
    return parts[2].upper() if len(parts) > 2 and parts[1] == "portal" and parts[2] else None


def error_page(request: Request, error: DomainError, status: int | None = None) -> Response:
    """The HTML page of a refusal, with the status the API would use; a signed-in user
    keeps the portal's navigation on it."""
    code = portal_code(request)
    return render(
        request,
        "error.html",
        {
            "error": error,
            "title": Later(TITLES.get(error.code, N_("Refused"))),
            "code": code,
            "user": _signed_in_user(request, code),
        },
        status or STATUS[error.code],
    )


def _signed_in_user(request: Request, code: str | None) -> PortalUser | None:
    """The user signed in to portal ``code``, or None (no session, an unknown portal, a
    second factor still awaited): an error page must show whatever it can."""
    if code is None or ctx.SESSION_COOKIE not in request.cookies:
        return None
    try:
        return ctx.signed_in(request, code)
    except (DomainError, ctx.Redirect):
        return None


def redirect(url: str) -> Response:
    """A 303 See Other: after a form, the browser GETs the result page."""
    return RedirectResponse(url, status_code=303)


def form_date(value: str, label: str) -> date | None:
    """A date typed in a filter form (``YYYY-MM-DD``), None when left empty."""
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            (
                _("The start date {value} is not a date; write it like 2026-01-31.")
                if label == "from"
                else _("The end date {value} is not a date; write it like 2026-01-31.")
            ).format(value=repr(value.strip())),
        ) from None
