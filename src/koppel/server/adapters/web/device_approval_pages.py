"""The device page: where a user approves what Koppel on a workstation asked for (the
user's side of RFC 8628). Three steps, each a form: the code with login and password,
the second factor when enrolled, then approve or deny.

The page belongs to the server, not to one portal: the agent only knows the server, and
an unauthenticated visitor must not learn which portal serves which environment. Sign-in
here follows the portal's policy (lockout, recorded failures, second factor); after the
password the browser holds a cookie bound to this one request, so the later steps work
only in the browser that signed in.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request, Response

from koppel.protocol.device import VERIFICATION_PATH, describe
from koppel.protocol.errors import ErrorCode
from koppel.server.adapters.http.dependencies import address, services
from koppel.server.adapters.http.errors import STATUS
from koppel.server.adapters.http.password_attempts import attempt
from koppel.server.adapters.web import context as ctx
from koppel.server.adapters.web.pages import redirect
from koppel.server.adapters.web.templating import render
from koppel.server.domain.errors import DomainError
from koppel.server.domain.model import Account
from koppel.server.domain.portal import device_approval
from koppel.server.domain.portal.device_approval import DeviceGrant

router = APIRouter()
# The browser's binding to the one request it signed in for.
BINDING_COOKIE = "koppel_device"
Text = Annotated[str, Form(max_length=200)]


def _page(request: Request, step: str, *, status: int = 200, **context: Any) -> Response:
    token = ctx.new_form_token()
    response = render(
        request, "device_approval.html",
        {"step": step, "form_token": token, **context}, status,
    )  # fmt: skip
    response.set_cookie(
        ctx.PRE_SESSION_COOKIE, token, path=VERIFICATION_PATH, httponly=True,
        samesite="strict", secure=ctx.secure_cookies(request, services(request)),
    )  # fmt: skip
    return response


def _code_form(
    request: Request, user_code: str = "", login: str = "", error: DomainError | None = None
) -> Response:
    status = STATUS[error.code] if error else 200
    return _page(request, "code", status=status, user_code=user_code, login=login, error=error)


def _confirm_path(user_code: str) -> str:
    return f"{VERIFICATION_PATH}/confirm?user_code={quote(user_code)}"


@router.get(VERIFICATION_PATH, name="device")
def device_page(request: Request, user_code: str = "") -> Response:
    """Enter the code Koppel shows, with login and password."""
    return _code_form(request, user_code=user_code[:40])


@router.post(VERIFICATION_PATH, dependencies=[Depends(ctx.pre_session_checked)])
def device_sign_in(
    request: Request, user_code: Text = "", login: Text = "", password: Text = ""
) -> Response:
    """Check the code, then the password (counted like a portal sign-in)."""
    svc, where = services(request), address(request)
    try:
        with svc.transaction() as uow:
            grant = device_approval.awaiting(
                uow.device_grants, uow.portal, svc.policy,
                user_code, where,
            )  # fmt: skip
    except DomainError as exc:
        if exc.code is ErrorCode.DEVICE_CODE_INVALID:
            with svc.transaction() as uow:
                device_approval.record_wrong_code(uow.portal, svc.policy, where)
        return _code_form(request, user_code, login, exc)
    try:
        binding, _needs_code = attempt(
            svc, login, where,
            lambda uow: device_approval.sign_in_for(
                uow.core, uow.device_grants, uow.portal, svc.policy, grant, login,
                password, where,
            ),
        )  # fmt: skip
    except DomainError as exc:
        return _code_form(request, user_code, login, exc)
    response = redirect(_confirm_path(user_code))
    response.set_cookie(
        BINDING_COOKIE, binding, path=VERIFICATION_PATH, httponly=True, samesite="strict",
        secure=ctx.secure_cookies(request, svc), max_age=15 * 60,
    )  # fmt: skip
    return response


def _bound(request: Request, user_code: str) -> tuple[DeviceGrant, Account]:
    svc = services(request)
    with svc.transaction() as uow:
        return device_approval.bound(
            uow.core, uow.device_grants, svc.policy, user_code,
            request.cookies.get(BINDING_COOKIE),
        )  # fmt: skip


def _confirmation(
    request: Request,
    grant: DeviceGrant,
    account: Account,
    user_code: str,
    error: DomainError | None = None,
) -> Response:
    if not grant.second_factor_done:
        status = STATUS[error.code] if error else 200
        return _page(
            request, "second-factor", status=status, user_code=user_code, account=account,
            error=error,
        )  # fmt: skip
    svc = services(request)
    with svc.transaction() as uow:
        wanted = device_approval.asked(uow.core, grant, account)
        refusal = device_approval.refusal_for(uow.core, grant, account)
    shown = [describe(a.action, f"{a.code} ({a.name})" if a.name else a.code) for a in wanted]
    return _page(
        request, "decide", user_code=user_code, account=account, grant=grant, asked=shown,
        refusal=refusal,
    )  # fmt: skip


@router.get(f"{VERIFICATION_PATH}/confirm")
def confirm_page(request: Request, user_code: str = "") -> Response:
    """The second factor (when enrolled), then what is asked, to approve or deny."""
    try:
        grant, account = _bound(request, user_code[:40])
    except DomainError as exc:
        return _code_form(request, user_code[:40], error=exc)
    return _confirmation(request, grant, account, user_code[:40])


@router.post(f"{VERIFICATION_PATH}/second-factor", dependencies=[Depends(ctx.pre_session_checked)])
def second_factor_submit(request: Request, user_code: Text = "", otp: Text = "") -> Response:
    """Check the code of the authenticator app (or a recovery code)."""
    svc, where = services(request), address(request)
    try:
        grant, account = _bound(request, user_code)
    except DomainError as exc:
        return _code_form(request, user_code, error=exc)
    try:
        attempt(
            svc, account.login, where,
            lambda uow: device_approval.give_second_factor(
                uow.core, uow.device_grants, uow.portal, svc.policy, grant, account, otp,
                where,
            ),
        )  # fmt: skip
    except DomainError as exc:
        return _confirmation(request, grant, account, user_code, exc)
    return redirect(_confirm_path(user_code))


@router.post(f"{VERIFICATION_PATH}/decide", dependencies=[Depends(ctx.pre_session_checked)])
def decide(request: Request, user_code: Text = "", decision: Text = "") -> Response:
    """Approve or deny; the agent learns it at its next poll."""
    svc = services(request)
    try:
        grant, account = _bound(request, user_code)
    except DomainError as exc:
        return _code_form(request, user_code, error=exc)
    try:
        with svc.transaction() as uow:
            done = device_approval.decide(
                uow.core, uow.device_grants, svc.policy, grant, account,
                approve=decision == "approve",
            )  # fmt: skip
    except DomainError as exc:  # the second factor is still missing
        return _confirmation(request, grant, account, user_code, exc)
    response = _page(request, "done", grant=done, account=account)
    response.delete_cookie(BINDING_COOKIE, path=VERIFICATION_PATH)
    return response
