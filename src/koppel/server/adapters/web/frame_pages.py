"""The routes of the frame every page shares: the language switch, the firm's logo and
colour, and the favicon.

The switch needs no JavaScript: its buttons post a form. Signed out it leaves a cookie
(a display preference: no CSRF token is needed to change it, and it beats the browser's
``Accept-Language``); signed in, with the session's CSRF token, it also saves the
account's language.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import FileResponse, RedirectResponse

from koppel.i18n import gettext as _
from koppel.i18n import supported
from koppel.protocol.errors import ErrorCode
from koppel.server.adapters.http.dependencies import services
from koppel.server.adapters.web import context as ctx
from koppel.server.adapters.web.frame import set_language_cookie
from koppel.server.domain.errors import DomainError
from koppel.server.domain.portal import sessions as web_sessions
from koppel.server.domain.portal import sign_in
from koppel.server.domain.portal.branding import Brand, branded_environment, text_color

router = APIRouter()

FAVICON = Path(__file__).parent / "assets" / "favicon.ico"
_DAY = 24 * 3600


def _safe_target(target: str, fallback: str) -> str:
    # Back to the page the switch was on: only a path of this host (no open redirect).
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return fallback


def _switched(request: Request, language: str, target: str) -> Response:
    response = RedirectResponse(target, status_code=303)
    set_language_cookie(request, response, language)
    return response


def _chosen(language: str) -> str:
    chosen = supported(language)
    if chosen is None:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Choose Nederlands, Français or English."))
    return chosen


@router.post("/portal/{code}/language", name="choose_language")
def choose_language(
    request: Request,
    code: str,
    language: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Speak ``language`` on this portal: the cookie, and the account's choice when the
    form carries the signed-in session's CSRF token."""
    chosen = _chosen(language)
    svc = services(request)
    with svc.transaction() as uow:
        portal = sign_in.portal_environment(uow.core, code)
        session = web_sessions.resume(
            uow.portal, svc.policy, request.cookies.get(ctx.SESSION_COOKIE)
        )
        if (
            session is not None
            and session.portal_environment_id == portal.id
            and web_sessions.csrf_matches(session, csrf_token)
        ):
            account = uow.core.account_by_id(session.account_id)
            if account is not None and account.language != chosen:
                account.language = chosen
                uow.core.save_account(account)
    return _switched(request, chosen, _safe_target(back, ctx.portal_path(portal.code)))


@router.post("/language", name="choose_language_anywhere")
def choose_language_anywhere(
    request: Request,
    language: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
) -> Response:
    """The switch on pages outside a portal (the device approval page): the cookie only."""
    return _switched(request, _chosen(language), _safe_target(back, "/"))


def _brand(request: Request, code: str, *, with_logo: bool) -> Brand | None:
    with services(request).transaction() as uow:
        portal = sign_in.portal_environment(uow.core, code)
        firm = branded_environment(uow.core, portal)
        return uow.brands.brand(firm.id, with_logo=with_logo)


def _cached(request: Request, body: bytes, media_type: str) -> Response:
    # Public (the sign-in page shows it too); the URL carries the brand's version, and
    # the ETag answers a revalidation with 304.
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"Cache-Control": f"public, max-age={_DAY}", "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def _no_brand(what: str) -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, what)


@router.get("/portal/{code}/logo", name="portal_logo")
def portal_logo(request: Request, code: str) -> Response:
    """The firm's logo (its own portal's or, on a client's portal, its firm's)."""
    brand = _brand(request, code, with_logo=True)
    if brand is None or brand.logo is None or brand.logo_type is None:
        raise _no_brand(_("This portal has no logo."))
    return _cached(request, brand.logo, brand.logo_type)


@router.get("/portal/{code}/brand.css", name="portal_brand_css")
def portal_brand_css(request: Request, code: str) -> Response:
    """The header in the firm's colour, its text black or white for contrast."""
    brand = _brand(request, code, with_logo=False)
    if brand is None or brand.color is None:
        raise _no_brand(_("This portal has no colour of its own."))
    ink = text_color(brand.color)
    css = (
        f"header.top {{ background: {brand.color}; border-bottom-color: {brand.color}; }}\n"
        f"header.top .brand a, header.top .brand span, header.top nav a, header.top .who,\n"
        f"header.top .language-label {{ color: {ink}; }}\n"
    )
    return _cached(request, css.encode(), "text/css; charset=utf-8")


@router.get("/favicon.ico", name="favicon")
def favicon() -> FileResponse:
    """Koppel's icon (the tray icon's two rings on a blue tile)."""
    return FileResponse(
        FAVICON, media_type="image/x-icon", headers={"Cache-Control": f"public, max-age={_DAY}"}
    )
