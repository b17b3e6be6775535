"""Who is signed in on a portal page, and the checks every form passes.

Routes take ``SignedIn`` (a ``PortalUser``) or ``CsrfChecked``; a missing or ended
session becomes a redirect to the sign-in page, a missing second factor a redirect to
the second-factor page, and a form without this session's CSRF token a refusal.
"""

from __future__ import annotations

import secrets
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request, Response

from koppel.i18n import gettext as _
from koppel.protocol.errors import ErrorCode
from koppel.server.adapters.http.dependencies import services
from koppel.server.domain.errors import DomainError
from koppel.server.domain.model import Account, Environment
from koppel.server.domain.portal import environments as portal_rules
from koppel.server.domain.portal import sessions as web_sessions
from koppel.server.domain.portal import sign_in
from koppel.server.domain.portal.environments import PortalEnvironment
from koppel.server.domain.portal.model import WebSession
from koppel.server.domain.unit_of_work import UnitOfWork
from koppel.server.services import Services

SESSION_COOKIE = "koppel_session"
# Double-submit cookie protecting the forms shown before a session exists (sign-in).
PRE_SESSION_COOKIE = "koppel_form"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class Redirect(Exception):
    """Answer with a 303 to ``url`` (handled for every portal route)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


def portal_path(code: str, *parts: str) -> str:
    """``/portal/CODE/part/...``: every portal link is built here."""
    tail = "/".join(p.strip("/") for p in parts if p)
    return f"/portal/{code}/{tail}" if tail else f"/portal/{code}/"


@dataclass
class PortalUser:
    """The signed-in user of one portal, with what the pages need to know of them."""

    svc: Services
    portal: Environment
    account: Account
    session: WebSession
    environments: list[PortalEnvironment] = field(default_factory=list)

    @property
    def csrf_token(self) -> str:
        """The token every form of this session must carry."""
        return self.session.csrf_token

    @property
    def administers(self) -> list[PortalEnvironment]:
        """The environments where the user holds General/Management/App connector."""
        return [e for e in self.environments if e.administers]

    def path(self, *parts: str) -> str:
        """A link on this user's portal."""
        return portal_path(self.portal.code, *parts)

    def environment(self, code: str) -> PortalEnvironment:
        """One of the user's environments here, or ``not_found``."""
        return portal_rules.pick(self.environments, self.portal, code)

    def transaction(self) -> AbstractContextManager[UnitOfWork]:
        """One unit of work."""
        return self.svc.transaction()


def secure_cookies(request: Request, svc: Services) -> bool:
    """Whether cookies get ``Secure``: behind https (directly or as the public URL says)."""
    return request.url.scheme == "https" or svc.policy.public_url.startswith("https://")


def set_session_cookie(response: Response, request: Request, svc: Services, code: str,
                       value: str) -> None:  # fmt: skip
    """Hand the browser its session: HttpOnly, SameSite=Lax, scoped to this portal."""
    response.set_cookie(
        SESSION_COOKIE, value, path=portal_path(code), httponly=True, samesite="lax",
        secure=secure_cookies(request, svc),
    )  # fmt: skip


def clear_session_cookie(response: Response, code: str) -> None:
    """Make the browser forget its session."""
    response.delete_cookie(SESSION_COOKIE, path=portal_path(code), httponly=True, samesite="lax")


def _load(request: Request, code: str, *, pending_ok: bool) -> PortalUser:
    svc = services(request)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    # A redirect is raised after the transaction: raised inside, it would roll back the
    # ending of an expired session or of one whose access was taken away.
    elsewhere: str | None = None
    shown: list[PortalEnvironment] = []
    with svc.transaction() as uow:
        portal = sign_in.portal_environment(uow.core, code)
        store = uow.portal
        session = web_sessions.resume(store, svc.policy, request.cookies.get(SESSION_COOKIE))
        account = uow.core.account_by_id(session.account_id) if session else None
        member = uow.core.membership(portal.id, account.id) if account else None
        if session is None or session.portal_environment_id != portal.id:
            elsewhere = portal_path(portal.code, f"sign-in?next={quote(here)}")
        elif account is None or account.disabled or member is None or not member.portal_access:
            # Access was taken away since sign-in: the session ends with it.
            web_sessions.end(store, session)
            elsewhere = portal_path(portal.code, "sign-in")
        elif not session.second_factor_done and not pending_ok:
            elsewhere = portal_path(portal.code, f"second-factor?next={quote(here)}")
        else:
            shown = portal_rules.environments_of(uow.core, portal, account)
    if elsewhere is not None:
        raise Redirect(elsewhere)
    assert session is not None and account is not None
    return PortalUser(svc, portal, account, session, shown)


def signed_in(request: Request, code: str) -> PortalUser:
    """The signed-in user of the portal ``code`` (second factor given, if enrolled)."""
    return _load(request, code, pending_ok=False)


def half_signed_in(request: Request, code: str) -> PortalUser:
    """A user whose password was right and whose second factor is still awaited."""
    return _load(request, code, pending_ok=True)


async def presented_csrf(request: Request) -> str | None:
    """The CSRF token a request carries: the form field, or the header."""
    if request.method in ("GET", "HEAD"):
        return None
    if CSRF_HEADER in request.headers:
        return request.headers[CSRF_HEADER]
    form = await request.form()
    value = form.get(CSRF_FIELD)
    return value if isinstance(value, str) else None


def _refuse_csrf() -> DomainError:
    return DomainError(
        ErrorCode.CSRF_FAILED,
        _(
            "This form expired or did not come from this portal, so nothing was changed. "
            "Reload the page and try again."
        ),
    )


async def csrf_checked(
    request: Request, user: Annotated[PortalUser, Depends(signed_in)]
) -> PortalUser:
    """``signed_in``, for a form: the form must carry this session's CSRF token."""
    if not web_sessions.csrf_matches(user.session, await presented_csrf(request)):
        raise _refuse_csrf()
    return user


async def pending_csrf_checked(
    request: Request, user: Annotated[PortalUser, Depends(half_signed_in)]
) -> PortalUser:
    """``half_signed_in``, for a form (the second-factor form)."""
    if not web_sessions.csrf_matches(user.session, await presented_csrf(request)):
        raise _refuse_csrf()
    return user


def new_form_token() -> str:
    """A token for a form shown before sign-in (sent as cookie and as hidden field)."""
    return secrets.token_urlsafe(32)


async def pre_session_checked(request: Request) -> None:
    """The sign-in form's double-submit check: field and cookie must be the same."""
    cookie = request.cookies.get(PRE_SESSION_COOKIE)
    presented = await presented_csrf(request)
    if not cookie or not presented or not secrets.compare_digest(cookie, presented):
        raise _refuse_csrf()


SignedIn = Annotated[PortalUser, Depends(signed_in)]
CsrfChecked = Annotated[PortalUser, Depends(csrf_checked)]
HalfSignedIn = Annotated[PortalUser, Depends(half_signed_in)]
PendingCsrfChecked = Annotated[PortalUser, Depends(pending_csrf_checked)]
