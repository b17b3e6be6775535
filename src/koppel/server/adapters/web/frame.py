"""What every portal page is framed in: its language, its time zone and the firm's brand.

The language is the signed-in account's saved choice, else the switch's cookie, else the
browser's ``Accept-Language``, else the environment's default (a client environment
without one takes its firm's), else English. The time zone: the account's, else the
environment's (or its firm's), else ``Europe/Amsterdam``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response

from koppel.i18n import (
    DEFAULT_LANGUAGE,
    DEFAULT_TIME_ZONE,
    LANGUAGES,
    language_name,
    negotiate,
    supported,
    use_language,
    use_time_zone,
    valid_time_zone,
)
from koppel.server.adapters.http.dependencies import services
from koppel.server.adapters.http.language import LANGUAGE_COOKIE
from koppel.server.domain.model import Account, Environment
from koppel.server.domain.portal.branding import branded_environment, text_color

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LanguageOption:
    """One button of the language switch."""

    code: str
    name: str
    current: bool


@dataclass
class Frame:
    """The page's language, time zone and brand (the firm's name, logo and colour)."""

    language: str = DEFAULT_LANGUAGE
    time_zone: str = DEFAULT_TIME_ZONE
    code: str | None = None  # the portal's code, when the page belongs to one
    firm_name: str | None = None
    has_logo: bool = False
    color: str | None = None
    text_color: str | None = None
    back: str = "/"  # where the switch returns: this page (its query only for ``next``)
    account_language: str | None = None  # the signed-in account's saved choice
    version: str = ""  # changes with the brand: the logo's and stylesheet's URLs follow it
    languages: list[LanguageOption] = field(default_factory=list)

    @property
    def language_action(self) -> str:
        """Where the language switch posts."""
        return f"/portal/{self.code}/language" if self.code else "/language"

    @property
    def logo_url(self) -> str | None:
        """The logo's address (with the brand's version: cached until it changes)."""
        if not (self.has_logo and self.code):
            return None
        return f"/portal/{self.code}/logo?v={self.version}"

    @property
    def brand_css(self) -> str | None:
        """The stylesheet of the brand's colour (inline styles are refused by the CSP)."""
        if not (self.color and self.code):
            return None
        return f"/portal/{self.code}/brand.css?v={self.version}"


def _portal_of(context: dict[str, Any]) -> tuple[Environment | None, Account | None, str | None]:
    user = context.get("user")
    if user is not None:
        return user.portal, user.account, user.portal.code
    portal = context.get("portal")
    if isinstance(portal, Environment):
        return portal, None, portal.code
    code = context.get("code")
    return None, None, code if isinstance(code, str) and code else None


def cookie_language(request: Request) -> str | None:
    """The language the switch left in the browser's cookie, if any."""
    return supported(request.cookies.get(LANGUAGE_COOKIE))


def page_frame(request: Request, context: dict[str, Any]) -> Frame:
    """The frame of one page (one short read of the portal and its brand)."""
    portal, account, code = _portal_of(context)
    # The code only of a portal that exists: the switch posts to it, the name links home.
    frame = Frame(code=code if portal is not None else None)
    defaults: list[Environment] = []
    try:
        with services(request).transaction() as uow:
            if portal is None and code:
                portal = uow.core.environment(code.upper())
            if portal is not None and portal.has_portal:
                frame.code = portal.code
            if portal is not None:
                firm = branded_environment(uow.core, portal)
                defaults = [portal, firm]
                brand = uow.brands.brand(firm.id, with_logo=False)
                frame.firm_name = firm.name
                if brand is not None:
                    frame.has_logo = brand.logo_type is not None
                    frame.color = brand.color
                    frame.text_color = text_color(brand.color) if brand.color else None
                    if brand.updated_at is not None:
                        frame.version = str(int(brand.updated_at.timestamp()))
    except Exception:
        _log.debug("portal frame without the environment's defaults", exc_info=True)
    # Only ``next`` of the query goes back: the rest (a notice's key, say) is not carried.
    follow = request.query_params.get("next")
    frame.back = request.url.path + (f"?next={quote(follow, safe='/')}" if follow else "")
    frame.account_language = supported(account.language if account else None)
    frame.language = (
        frame.account_language
        or cookie_language(request)
        or negotiate(request.headers.get("accept-language"))
        or next((supported(e.language) for e in defaults if supported(e.language)), None)
        or DEFAULT_LANGUAGE
    )
    zones = [account.time_zone if account else None] + [e.time_zone for e in defaults]
    frame.time_zone = next((z for z in zones if z and valid_time_zone(z)), DEFAULT_TIME_ZONE)
    frame.languages = [
        LanguageOption(code, language_name(code), code == frame.language) for code in LANGUAGES
    ]
    return frame


@contextmanager
def speaking_to(request: Request, context: dict[str, Any]) -> Iterator[Frame]:
    """The page's language and time zone for work a form starts (a file it names, a job
    it queues), as ``render`` uses them for the page."""
    frame = page_frame(request, context)
    with use_language(frame.language), use_time_zone(frame.time_zone):
        yield frame


def remember_language(request: Request, response: Response, frame: Frame) -> None:
    """Leave the account's saved language in the cookie when the browser lacks it (a new
    browser), so the next request's messages follow it from the start."""
    if frame.account_language and cookie_language(request) != frame.account_language:
        set_language_cookie(request, response, frame.account_language)


def set_language_cookie(request: Request, response: Response, language: str) -> None:
    """The switch's cookie: for the whole host, a year, not readable by scripts."""
    response.set_cookie(
        LANGUAGE_COOKIE, language, max_age=365 * 24 * 3600, path="/", httponly=True,
        samesite="lax", secure=_secure(request),
    )  # fmt: skip


def _secure(request: Request) -> bool:
    svc = services(request)
    return request.url.scheme == "https" or svc.policy.public_url.startswith("https://")
