"""A browser on the portal of the in-process app (``demo_app``): cookies, the CSRF token of
the last page, form posts. The in-process twin of ``portal_client.Portal`` (which talks
to a ``koppel-server`` process): same methods, no port, milliseconds per page.

    portal = PortalBrowser(demo_app).signed_in("anna")
    page = portal.get(portal.path("environments", "C20001", "dossier"))
"""

from __future__ import annotations

from typing import Any

import httpx

from app_client import DEMO_PASSWORD, AppClient, InProcess
from portal_client import _CSRF


class PortalBrowser:
    """One browser (its own cookies) on the portal of ``code``."""

    def __init__(self, app: InProcess, code: str = "F10001", address: str = "127.0.0.1") -> None:
        self.code = code
        self.http: AppClient = app.client(address)
        self.csrf: str | None = None
        self.last: httpx.Response | None = None

    def path(self, *parts: str) -> str:
        """``/portal/CODE/parts``."""
        tail = "/".join(p.strip("/") for p in parts)
        return f"/portal/{self.code}/{tail}"

    def _remember(self, response: httpx.Response) -> httpx.Response:
        self.last = response
        if "html" in response.headers.get("content-type", ""):
            found = _CSRF.search(response.text)
            if found:
                self.csrf = found.group(1)
        return response

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """GET a page (following redirects); remembers its CSRF token."""
        kwargs.setdefault("follow_redirects", True)
        return self._remember(self.http.get(path, **kwargs))

    def post(
        self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kwargs: Any
    ) -> httpx.Response:
        """POST a form with the current CSRF token (unless ``csrf=False``)."""
        form = dict(data or {})
        if csrf and "csrf_token" not in form and self.csrf:
            form["csrf_token"] = self.csrf
        kwargs.setdefault("follow_redirects", True)
        return self._remember(self.http.post(path, data=form, **kwargs))

    def sign_in(self, login: str = "anna", password: str = DEMO_PASSWORD) -> httpx.Response:
        """Open the sign-in form and submit it; the response after redirects."""
        self.get(self.path("sign-in"))
        return self.post(self.path("sign-in"), {"login": login, "password": password})

    def signed_in(self, login: str = "anna", password: str = DEMO_PASSWORD) -> PortalBrowser:
        """``sign_in`` that must land on the signed-in home page."""
        response = self.sign_in(login, password)
        assert response.status_code == 200, response.text
        assert "sign-out" in response.text, response.text
        return self
