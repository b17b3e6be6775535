"""A browser-like HTTP client for portal tests: cookies, the CSRF token of the last page,
form posts. Talks to the app in process (``demo_app``, through httpx's ASGI transport) or
to a served one (``harness.Server``: a ``koppel-server`` process or ``ServedServer``)."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import httpx

from app_client import AppClient, InProcess
from harness import DEMO_PASSWORD, Server

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def text_of(html: str) -> str:
    """A page's visible text, whitespace collapsed (for assertions on messages)."""
    without_tags = re.sub(r"<[^>]+>", " ", re.sub(r"(?s)<(style|script).*?</\1>", " ", html))
    return re.sub(r"\s+", " ", unescape(without_tags)).strip()


class Portal:
    """One browser on the portal of ``code``."""

    def __init__(self, server: Server | InProcess, code: str = "F10001") -> None:
        self.server, self.code = server, code
        self.http: httpx.Client | AppClient = (
            server.client()
            if isinstance(server, InProcess)
            else httpx.Client(base_url=server.url, timeout=60)
        )
        self.csrf: str | None = None
        self.last: httpx.Response | None = None

    def __enter__(self) -> Portal:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.http.close()

    def path(self, *parts: str) -> str:
        """``/portal/CODE/parts``."""
        tail = "/".join(p.strip("/") for p in parts)
        return f"/portal/{self.code}/{tail}"

    def _remember(self, response: httpx.Response) -> httpx.Response:
        self.last = response
        found = (
            _CSRF.search(response.text)
            if "html" in response.headers.get("content-type", "")
            else None
        )
        if found:
            self.csrf = found.group(1)
        return response

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """GET a page (following redirects); remembers its CSRF token."""
        kwargs.setdefault("follow_redirects", True)
        return self._remember(self.http.get(path, **kwargs))

    def post(self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True,
             **kwargs: Any) -> httpx.Response:  # fmt: skip
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

    def signed_in(self, login: str = "anna", password: str = DEMO_PASSWORD) -> Portal:
        """``sign_in`` that must land on the home page."""
        response = self.sign_in(login, password)
        assert response.status_code == 200 and "Welcome" in response.text, text_of(response.text)
        return self
