"""Security headers on every portal page and asset, and HSTS on every response of a
server reached over https.

The portal loads nothing from elsewhere and runs no script, so the policy allows only
its own stylesheet and images (inline SVG for the QR code needs no source at all).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)

HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)

PREFIXES = ("/portal", "/assets")


class SecurityHeaders:
    """Pure ASGI middleware (it must not buffer downloads) adding ``HEADERS``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(PREFIXES):
            await self.app(scope, receive, send)
            return
        is_page = str(scope["path"]).startswith("/portal")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [h for h in HEADERS if h[0] not in present]
                if is_page and b"cache-control" not in present:
                    # Pages show personal data: never keep them in shared caches.
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


STRICT_TRANSPORT_SECURITY = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


def served_over_https(public_url: str) -> bool:
    """Whether browsers and agents reach the server over https (TLS may end at a reverse
    proxy in front of it: the public URL says, not the request)."""
    return public_url.lower().startswith("https://")


class StrictTransportSecurity:
    """Pure ASGI middleware adding HSTS to every response (API, portal, assets, docs):
    once a browser has seen the https site it never tries plain http for a year, so a
    network attacker cannot strip TLS. Installed only when the public URL is https (on
    plain http the header would be ignored, and it would be wrong)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if all(name.lower() != STRICT_TRANSPORT_SECURITY[0] for name, _ in headers):
                    headers.append(STRICT_TRANSPORT_SECURITY)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_header)
