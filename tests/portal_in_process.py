"""The browser-like portal client of ``portal_client.py`` over the in-process app
(``demo_app``): cookies, the CSRF token of the last page, form posts, sign-in by the form."""

from __future__ import annotations

from typing import Any

import httpx

from app_client import DEMO_PASSWORD, InProcess
from portal_client import _CSRF, text_of


class InProcessPortal:
    """One browser on the portal of ``code`` of the in-process app."""

    def __init__(self, app: InProcess, code: str = "F10001") -> None:
        self.http, self.code = app.client(), code
        self.csrf: str | None = None

    def path(self, *parts: str) -> str:
        """``/portal/CODE/parts``."""
        return f"/portal/{self.code}/" + "/".join(p.strip("/") for p in parts)

    def _remember(self, response: httpx.Response) -> httpx.Response:
        if "html" in response.headers.get("content-type", ""):
            found = _CSRF.search(response.text)
            if found:
                self.csrf = found.group(1)
        return response

    def get(self, path: str) -> httpx.Response:
        """GET a page (following redirects); remembers its CSRF token."""
        return self._remember(self.http.get(path, follow_redirects=True))

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
        """POST a form with the current CSRF token first (as the portal's forms order it)."""
        form = {"csrf_token": self.csrf or "", **(data or {})}
        kwargs.setdefault("follow_redirects", True)
        return self._remember(self.http.post(path, data=form, **kwargs))

    def signed_in(self, login: str = "anna", password: str = DEMO_PASSWORD) -> InProcessPortal:
        """Sign in through the sign-in form (with its CSRF token); must land on Home."""
        self.get(self.path("sign-in"))
        home = self.post(self.path("sign-in"), {"login": login, "password": password})
        assert home.status_code == 200 and "Welcome" in home.text, text_of(home.text)
        return self
