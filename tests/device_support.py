"""Shortcuts for tests of the device approval (RFC 8628): start an approval as the agent
does, and walk the device page as a browser does, in process or against a real server."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

import httpx

from koppel.protocol.device import AUTHORIZE_PATH, CLIENT_ID, GRANT_TYPE, TOKEN_PATH
from koppel.server.domain.model import Account
from koppel.server.domain.portal import second_factor
from portal_client import _CSRF


class Http(Protocol):
    """What the walk needs of a client (``AppClient`` or ``httpx.Client``)."""

    def get(self, url: str, **kwargs: Any) -> httpx.Response: ...
    def post(self, url: str, **kwargs: Any) -> httpx.Response: ...


def start(http: Http, scope: str, workstation: str = "laptop") -> dict[str, Any]:
    """The agent's first call: a device code, a user code and where to enter it."""
    response = http.post(
        AUTHORIZE_PATH, data={"client_id": CLIENT_ID, "scope": scope, "workstation": workstation}
    )
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def poll(http: Http, device_code: str) -> httpx.Response:
    """One poll of the token endpoint."""
    return http.post(
        TOKEN_PATH,
        data={"grant_type": GRANT_TYPE, "device_code": device_code, "client_id": CLIENT_ID},
    )


def form_token(html: str) -> str:
    """The CSRF token of the form on a page."""
    found = _CSRF.search(html)
    assert found, html
    return found.group(1)


def sign_in(http: Http, user_code: str, login: str, password: str) -> httpx.Response:
    """Open the device page with the code and sign in; the page after redirects."""
    page = http.get(f"/device?user_code={user_code}")
    assert page.status_code == 200, page.text
    return http.post(
        "/device",
        data={
            "csrf_token": form_token(page.text),
            "user_code": user_code,
            "login": login,
            "password": password,
        },
        follow_redirects=True,
    )


def give_code(http: Http, page: httpx.Response, user_code: str, code: str) -> httpx.Response:
    """Answer the second-factor step shown on ``page``."""
    return http.post(
        "/device/second-factor",
        data={"csrf_token": form_token(page.text), "user_code": user_code, "otp": code},
        follow_redirects=True,
    )


def decide(http: Http, page: httpx.Response, user_code: str, decision: str) -> httpx.Response:
    """Press Approve or Deny on the decision ``page``."""
    return http.post(
        "/device/decide",
        data={"csrf_token": form_token(page.text), "user_code": user_code, "decision": decision},
        follow_redirects=True,
    )


def current_code(secret: str, at: datetime) -> str:
    """What the authenticator app shows at ``at``."""
    return second_factor.totp(second_factor.key_of(secret), at.timestamp())


def enrol_second_factor(repo: Any, store: Any, policy: Any, account: Account) -> str:
    """Turn two-step verification on for ``account`` (as its security page does); the
    secret its authenticator app holds."""
    portal = repo.environment("F10001")
    factor = second_factor.enrol(repo, store, policy, account, portal)
    second_factor.confirm(
        repo, store, policy, account, portal, current_code(factor.secret, policy.clock())
    )
    return factor.secret
