"""The second factor: the sign-in's second step and the security page (TOTP on and off,
recovery codes, signing out other browsers)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

import segno
from fastapi import APIRouter, Form, Request, Response
from markupsafe import Markup

from koppel.i18n import N_
from koppel.i18n import gettext as _
from koppel.protocol.errors import ErrorCode
from koppel.server.adapters.http.errors import STATUS
from koppel.server.adapters.web import context as ctx
from koppel.server.adapters.web.auth_pages import safe_next
from koppel.server.adapters.web.pages import redirect
from koppel.server.adapters.web.templating import render
from koppel.server.domain.errors import DomainError
from koppel.server.domain.portal import second_factor, sign_in
from koppel.server.domain.unit_of_work import UnitOfWork

router = APIRouter()

T = TypeVar("T")
Text = Annotated[str, Form()]

# Notices after a form, chosen by key: the query never puts text on the page.
NOTICES = {
    "off": N_("Two-step verification is off."),
    "others": N_("Every other browser signed in to this account is signed out."),
    "none": N_("No other browser was signed in."),
}


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _attempt(request: Request, user: ctx.PortalUser,
             step: Callable[[UnitOfWork], T], *,
             counts: bool = True) -> T | DomainError:  # fmt: skip
    """Run ``step`` in one unit of work; a refusal comes back instead of a result. A wrong
    code or password counts as a failed sign-in (in its own transaction, as the step's
    rolled back), so the lockout protects the second factor as it does the password;
    ``counts=False`` where a wrong code gains nothing (the first code of an enrolment)."""
    try:
        with user.transaction() as uow:
            return step(uow)
    except DomainError as exc:
        if counts and exc.code is ErrorCode.SECOND_FACTOR_INVALID:
            with user.transaction() as uow:
                sign_in.record_failure(
                    uow.portal, user.svc.policy, user.account.login,
                    _address(request),
                )  # fmt: skip
        return exc


# --- the sign-in's second step


def _challenge(request: Request, user: ctx.PortalUser, next_url: str | None,
               error: DomainError | None = None) -> Response:  # fmt: skip
    return render(
        request, "second_factor.html",
        {"user": user, "next": safe_next(user.portal.code, next_url), "error": error},
        STATUS[error.code] if error else 200,
    )  # fmt: skip


@router.get("/portal/{code}/second-factor", name="second_factor")
def second_factor_page(request: Request, user: ctx.HalfSignedIn,
                       next: str | None = None) -> Response:  # fmt: skip
    """Ask for the code of the authenticator app (or a recovery code)."""
    if user.session.second_factor_done:
        return redirect(safe_next(user.portal.code, next))
    return _challenge(request, user, next)


@router.post("/portal/{code}/second-factor")
def second_factor_submit(request: Request, user: ctx.PendingCsrfChecked, otp: Text = "",
                         next: Annotated[str | None, Form()] = None) -> Response:  # fmt: skip
    """Check the code; a right one completes the sign-in."""
    target = safe_next(user.portal.code, next)
    if user.session.second_factor_done:
        return redirect(target)
    done = _attempt(
        request, user,
        lambda uow: second_factor.verify(
            uow.core, uow.portal, user.svc.policy, user.account, user.portal, user.session, otp,
            _address(request),
        ),
    )  # fmt: skip
    if isinstance(done, DomainError):
        return _challenge(request, user, next, done)
    return redirect(target)


# --- the security page


def _security(request: Request, user: ctx.PortalUser, *, error: DomainError | None = None,
              notice: str | None = None, codes: list[str] | None = None) -> Response:  # fmt: skip
    with user.transaction() as uow:
        state = second_factor.status(uow.portal, user.account)
    context = {"user": user, "status": state, "error": error, "notice": notice,
               "codes": codes, "view": "codes" if codes else "overview"}  # fmt: skip
    return render(request, "security.html", context, STATUS[error.code] if error else 200)


@router.get("/portal/{code}/security", name="security")
def security_page(request: Request, user: ctx.SignedIn, done: str | None = None) -> Response:
    """Whether two-step verification is on, with the forms that change it."""
    notice = NOTICES.get(done or "")
    return _security(request, user, notice=_(notice) if notice else None)


@router.post("/portal/{code}/security/enrol")
def enrol(request: Request, user: ctx.CsrfChecked) -> Response:
    """Start an enrolment (a new secret), then show its QR code."""
    started = _attempt(
        request, user,
        lambda uow: second_factor.enrol(
            uow.core, uow.portal, user.svc.policy, user.account, user.portal
        ),
    )  # fmt: skip
    if isinstance(started, DomainError):
        return _security(request, user, error=started)
    return redirect(user.path("security", "enrol"))


def _qr_svg(uri: str) -> Markup:
    # segno writes the SVG from the URI alone, so it is safe to put in the page as is;
    # inline SVG needs no image source, which the CSP would not allow from elsewhere.
    code = segno.make(uri, error="m")
    svg = code.svg_inline(scale=4, border=4, light="#fff", svgclass="qr",
                          title=_("QR code for your authenticator app"))  # fmt: skip
    return Markup(svg.replace("<svg ", '<svg role="img" ', 1))


def _enrolment(
    request: Request, user: ctx.PortalUser, error: DomainError | None = None
) -> Response:
    with user.transaction() as uow:
        state = second_factor.status(uow.portal, user.account)
    if state.pending is None:
        return redirect(user.path("security"))
    secret = state.pending.secret
    uri = second_factor.provisioning_uri(secret, user.account.login, user.portal.name)
    context = {
        "user": user, "status": state, "view": "enrol", "error": error, "qr": _qr_svg(uri),
        "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
    }  # fmt: skip
    return render(request, "security.html", context, STATUS[error.code] if error else 200)


@router.get("/portal/{code}/security/enrol", name="security_enrol")
def enrolment_page(request: Request, user: ctx.SignedIn) -> Response:
    """The pending enrolment: QR code, the secret for typing in, the first-code form."""
    return _enrolment(request, user)


@router.post("/portal/{code}/security/confirm")
def confirm(request: Request, user: ctx.CsrfChecked, otp: Text = "") -> Response:
    """Turn TOTP on with a first code; the recovery codes are shown this once."""
    codes = _attempt(
        request, user,
        lambda uow: second_factor.confirm(
            uow.core, uow.portal, user.svc.policy, user.account, user.portal, otp
        ),
        counts=False,
    )  # fmt: skip
    if isinstance(codes, DomainError):
        if codes.code is ErrorCode.SECOND_FACTOR_INVALID:
            return _enrolment(request, user, codes)
        return _security(request, user, error=codes)
    notice = _("Two-step verification is on.")
    return _security(request, user, notice=notice, codes=codes)


@router.post("/portal/{code}/security/disable")
def disable(request: Request, user: ctx.CsrfChecked, otp: Text = "",
            password: Text = "") -> Response:  # fmt: skip
    """Turn TOTP off (or drop an unconfirmed enrolment)."""
    done = _attempt(
        request, user,
        lambda uow: second_factor.disable(
            uow.core, uow.portal, user.svc.policy, user.account, user.portal, code=otp,
            password=password, address=_address(request),
        ),
    )  # fmt: skip
    if isinstance(done, DomainError):
        return _security(request, user, error=done)
    return redirect(user.path("security?done=off"))


@router.post("/portal/{code}/security/recovery-codes")
def recovery_codes(request: Request, user: ctx.CsrfChecked, otp: Text = "",
                   password: Text = "") -> Response:  # fmt: skip
    """New recovery codes, shown this once; the old ones stop working."""
    codes = _attempt(
        request, user,
        lambda uow: second_factor.regenerate_recovery_codes(
            uow.core, uow.portal, user.svc.policy, user.account, user.portal, code=otp,
            password=password, address=_address(request),
        ),
    )  # fmt: skip
    if isinstance(codes, DomainError):
        return _security(request, user, error=codes)
    notice = _("New recovery codes made; the old ones no longer work.")
    return _security(request, user, notice=notice, codes=codes)


@router.post("/portal/{code}/security/sign-out-others")
def sign_out_others(user: ctx.CsrfChecked) -> Response:
    """End every other session of this account."""
    with user.transaction() as uow:
        ended = second_factor.sign_out_elsewhere(
            uow.core, uow.portal, user.svc.policy, user.account, user.portal,
            user.session,
        )  # fmt: skip
    return redirect(user.path(f"security?done={'others' if ended else 'none'}"))
