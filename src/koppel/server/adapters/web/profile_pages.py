"""The user's own profile: e-mail address, language and time zone."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from koppel.i18n import DEFAULT_TIME_ZONE, LANGUAGES, language_name
from koppel.i18n import gettext as _
from koppel.server.adapters.http.errors import STATUS
from koppel.server.adapters.web import context as ctx
from koppel.server.adapters.web.pages import redirect
from koppel.server.adapters.web.templating import render
from koppel.server.adapters.web.zones import zone_choices, zone_name
from koppel.server.domain.errors import DomainError
from koppel.server.domain.portal import profile

router = APIRouter()
Text = Annotated[str, Form()]


def _profile(request: Request, user: ctx.PortalUser, *, values: dict[str, str] | None = None,
             error: DomainError | None = None, notice: str | None = None) -> Response:  # fmt: skip
    account = user.account
    shown = values or {
        "email": account.email or "",
        "language": account.language or "",
        "time_zone": account.time_zone or "",
    }
    context = {
        "user": user,
        "values": shown,
        "error": error,
        "notice": notice,
        "languages": [(code, language_name(code)) for code in LANGUAGES],
        "time_zones": zone_choices(),
        "first_zones": profile.FIRST_ZONES,
        "portal_zone": zone_name(user.portal.time_zone or DEFAULT_TIME_ZONE),
    }
    return render(request, "profile.html", context, STATUS[error.code] if error else 200)


@router.get("/portal/{code}/profile", name="profile")
def profile_page(request: Request, user: ctx.SignedIn, done: str | None = None) -> Response:
    """The user's name, e-mail address, language and time zone."""
    notice = _("Your profile is saved.") if done == "saved" else None
    return _profile(request, user, notice=notice)


@router.post("/portal/{code}/profile")
def profile_submit(request: Request, user: ctx.CsrfChecked, email: Text = "",
                   language: Text = "", time_zone: Text = "") -> Response:  # fmt: skip
    """Save the profile (every field checked first: a refusal changes nothing)."""
    values = {"email": email, "language": language, "time_zone": time_zone}
    try:
        with user.transaction() as uow:
            account = uow.core.account_by_id(user.account.id)
            assert account is not None  # the session's account (checked by ``signed_in``)
            profile.update(uow.core, user.svc.policy, account, email=email,
                           language=language, time_zone=time_zone)  # fmt: skip
    except DomainError as exc:
        return _profile(request, user, values=values, error=exc)
    return redirect(user.path("profile?done=saved"))
