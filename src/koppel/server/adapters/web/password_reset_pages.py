"""A forgotten password: the page that sends a reset link, and the page the link opens.

The request's answer is the same page whatever happened (see ``password_reset``); what
really happened goes to the log. Both forms are shown before sign-in, so they carry the
double-submit token of the sign-in form instead of a session's.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response

from koppel.i18n import current_language
from koppel.protocol.errors import ErrorCode
from koppel.server.adapters.http.dependencies import services
from koppel.server.adapters.http.errors import STATUS
from koppel.server.adapters.web import context as ctx
from koppel.server.adapters.web.templating import render
from koppel.server.domain.errors import DomainError
from koppel.server.domain.passwords import MIN_LENGTH
from koppel.server.domain.portal import password_reset, sign_in
from koppel.server.domain.portal.password_reset import LINK_LIFETIME, Requested

router = APIRouter()
log = logging.getLogger(__name__)
Text = Annotated[str, Form()]
_MINUTES = int(LINK_LIFETIME.total_seconds() // 60)


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _page(request: Request, code: str, template: str, context: dict[str, object],
          status: int = 200) -> Response:  # fmt: skip
    """A page shown before sign-in, with a fresh double-submit token for its form."""
    token = ctx.new_form_token()
    response = render(
        request, template,
        {"code": code, "form_token": token, "minutes": _MINUTES, **context}, status,
    )  # fmt: skip
    response.set_cookie(
        ctx.PRE_SESSION_COOKIE, token, path=ctx.portal_path(code), httponly=True,
        samesite="strict", secure=ctx.secure_cookies(request, services(request)),
    )  # fmt: skip
    # The reset link's token is in the address: keep the page out of every cache.
    response.headers["Cache-Control"] = "no-store"
    return response


def _mail_enabled(request: Request) -> bool:
    return services(request).settings.smtp_url is not None


@router.get("/portal/{code}/forgot-password", name="forgot_password")
def forgot_password_page(request: Request, code: str) -> Response:
    """Ask for the login or e-mail address (or, when the server sends no e-mail, say that
    the administrator resets passwords)."""
    svc = services(request)
    with svc.transaction() as uow:
        portal = sign_in.portal_environment(uow.core, code)
    return _page(request, portal.code, "forgot_password.html",
                 {"mail": _mail_enabled(request), "sent": False})  # fmt: skip


@router.post("/portal/{code}/forgot-password", dependencies=[Depends(ctx.pre_session_checked)])
def forgot_password_submit(request: Request, code: str, login: Text = "") -> Response:
    """Record the request and queue its e-mail; the same answer whatever happened."""
    svc = services(request)
    address = _address(request)
    with svc.transaction() as uow:
        portal = sign_in.portal_environment(uow.core, code)
        outcome = password_reset.request(
            uow.core, uow.password_resets, uow.jobs, svc.policy, portal, login[:300],
            address, current_language(), mail_enabled=_mail_enabled(request),
        )  # fmt: skip
    if outcome is Requested.LIMITED:
        log.warning("password reset request from %s refused: over the limit of %d per "
                    "account or %d per address in %d minutes", address,
                    password_reset.REQUEST_LIMIT, password_reset.ADDRESS_LIMIT,
                    int(password_reset.REQUEST_WINDOW.total_seconds() // 60))  # fmt: skip
    else:
        log.info("password reset request from %s: %s", address, outcome.value)
    return _page(request, portal.code, "forgot_password.html",
                 {"mail": _mail_enabled(request), "sent": True})  # fmt: skip


def _link_refused(request: Request, code: str, error: DomainError) -> Response:
    return _page(request, code, "reset_password.html",
                 {"error": error, "link_error": True, "token": ""},
                 STATUS[error.code])  # fmt: skip


@router.get("/portal/{code}/reset-password", name="reset_password")
def reset_password_page(request: Request, code: str, token: str = "") -> Response:
    """The form for the new password, when the link still works (else why not, and a way
    to ask for a new one)."""
    svc = services(request)
    error: DomainError | None = None
    with svc.transaction() as uow:
        portal = sign_in.portal_environment(uow.core, code)
        try:
            password_reset.check_link(uow.password_resets, svc.policy, token)
        except DomainError as exc:
            error = exc
    if error is not None:
        return _link_refused(request, portal.code, error)
    return _page(request, portal.code, "reset_password.html",
                 {"token": token, "min_length": MIN_LENGTH})  # fmt: skip


@router.post("/portal/{code}/reset-password", dependencies=[Depends(ctx.pre_session_checked)])
def reset_password_submit(request: Request, code: str, token: Text = "", password: Text = "",
                          confirmation: Text = "") -> Response:  # fmt: skip
    """Set the new password; every session of the account ends, the second factor stays."""
    svc = services(request)
    try:
        with svc.transaction() as uow:
            portal = sign_in.portal_environment(uow.core, code)
            password_reset.reset_password(
                uow.core, uow.portal, uow.password_resets, svc.policy, token, password,
                confirmation, _address(request),
            )  # fmt: skip
    except DomainError as exc:
        if exc.code is ErrorCode.VALIDATION_ERROR:
            return _page(request, code.upper(), "reset_password.html",
                         {"token": token, "error": exc, "min_length": MIN_LENGTH},
                         STATUS[exc.code])  # fmt: skip
        if exc.code in (ErrorCode.NO_PORTAL, ErrorCode.UNKNOWN_ENVIRONMENT):
            raise
        return _link_refused(request, code.upper(), exc)
    return _page(request, portal.code, "reset_password.html", {"done": True, "token": ""})
