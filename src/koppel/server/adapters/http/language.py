"""Every request is answered in the language it asks for: the portal's language switch
(its cookie), else ``Accept-Language``.

The language is set for the request's context, so refusals built anywhere below (the
domain's errors, the API's messages, the portal's pages) come out in it. A portal page may
choose again from the user's saved preference or the environment's default. English when
nothing supported is asked for; error codes never change with the language.
"""

from __future__ import annotations

from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from koppel.i18n import DEFAULT_LANGUAGE, negotiate, supported, use_language

# The cookie the portal's language switch leaves in the browser (web/frame.py).
LANGUAGE_COOKIE = "koppel_lang"


def asked_language(scope: Scope) -> str | None:
    """The supported language the request asks for: the switch's cookie beats the
    browser's ``Accept-Language``."""
    cookie = accept = None
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            cookie = supported(cookie_parser(value.decode("latin-1")).get(LANGUAGE_COOKIE))
        elif name == b"accept-language":
            accept = negotiate(value.decode("latin-1"))
    return cookie or accept


class SpeakTheLanguage:
    """ASGI middleware: the request's language for everything it calls."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        with use_language(asked_language(scope) or DEFAULT_LANGUAGE):
            await self.app(scope, receive, send)
