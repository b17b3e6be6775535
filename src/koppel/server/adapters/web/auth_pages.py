"""Sign-in and sign-out."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse

from koppel.i18n import gettext as _
from koppel.protocol.errors import ErrorCode
from koppel.server.adapters.http.dependencies import services
from koppel.server.adapters.http.errors import STATUS
from koppel.server.adapters.web import context as ctx
from koppel.server.adapters.web.templating import render
from koppel.server.domain.errors import DomainError
from koppel.server.domain.portal import sessions as web_sessions
from koppel.server.domain.portal import sign_in

router = APIRouter()


def safe_next(code: str, target: str | None) -> str:
    """Where to go after signing in: only a page of this same portal (no open redirect)."""
    home = ctx.portal_path(code)
    if target and target.startswith(home) and "//" not in target[1:] and "\\" not in target:
        return target
    return home


def _form(request: Request, code: str, *, login: str = "", error: DomainError | None = None,
          next_url: str | None = None) -> Response:  # fmt: skip
    token = ctx.new_form_token()
    status = STATUS[error.code] if error else 200
    response = render(
        request,
        "sign_in.html",
        {"code": code, "login": login, "error": error, "form_token": token,
         "next": safe_next(code, next_url)},
        status,
    )  # fmt: skip
    response.set_cookie(
        ctx.PRE_SESSION_COOKIE, token, path=ctx.portal_path(code), httponly=True,
        samesite="strict", secure=ctx.secure_cookies(request, services(request)),
    )  # fmt: skip
    return response


@router.get("/portal/{code}/sign-in", name="sign_in")
def sign_in_page(request: Request, code: str, next: str | None = None) -> Response:
    """The sign-in form of a portal."""
    svc = services(request)
    with svc.transaction() as uow:
        portal = sign_in.portal_environment(uow.core, code)
    return _form(request, portal.code, next_url=next)


@router.post("/portal/{code}/sign-in", dependencies=[Depends(ctx.pre_session_checked)])
def sign_in_submit(
    request: Request,
    code: str,
    login: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str | None, Form()] = None,
) -> Response:
    """Check the password; start a session (pending the second factor when enrolled)."""
    svc = services(request)
    address = request.client.host if request.client else "unknown"
    try:
        with svc.transaction() as uow:
            done = sign_in.sign_in(uow.core, uow.portal, svc.policy, code, login, password, address)
            value, _session = web_sessions.start(
                uow.portal, svc.policy, done.account.id, done.portal.id,
                verified=not done.needs_second_factor,
            )  # fmt: skip
    except DomainError as exc:
        if exc.code is ErrorCode.INVALID_CREDENTIALS:
            # The refusal rolled the sign-in back; the failure must still count.
            with svc.transaction() as uow:
                sign_in.record_failure(uow.portal, svc.policy, login, address)
            if services(request).settings.smtp_url is not None:
                # With mail the user resets the password themselves: point to the link.
                exc = DomainError(
                    exc.code,
                    _(
                        "The login or password is wrong. Check them, or choose a new "
                        "password with “Forgot your password?” below."
                    ),
                )
        return _form(request, code.upper(), login=login, error=exc, next_url=next)
    target = safe_next(done.portal.code, next)
    if done.needs_second_factor:
        target = ctx.portal_path(done.portal.code, f"second-factor?next={quote(target)}")
    response = RedirectResponse(target, status_code=303)
    ctx.set_session_cookie(response, request, svc, done.portal.code, value)
    response.delete_cookie(ctx.PRE_SESSION_COOKIE, path=ctx.portal_path(done.portal.code))
    return response


@router.post("/portal/{code}/sign-out")
def sign_out(user: ctx.PendingCsrfChecked) -> Response:
    """End the session (a CSRF-checked form; a GET never signs anyone out)."""
    with user.transaction() as uow:
        web_sessions.end(uow.portal, user.session)
    response = RedirectResponse(ctx.portal_path(user.portal.code, "sign-in"), status_code=303)
    ctx.clear_session_cookie(response, user.portal.code)
    return response
