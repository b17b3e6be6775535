"""The outermost middleware: gives each request its id, and when the answer is done
writes its access line (``koppel.access``) and counts it in the metrics."""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from koppel.server.adapters.http.path_send import PATH_SEND
from koppel.server.adapters.observability import request_ids
from koppel.server.adapters.observability.metrics import Metrics

log = logging.getLogger("koppel.access")
_HEADER = request_ids.HEADER.lower().encode("latin-1")


def route_of(scope: Scope) -> str:
    """The template of the route that answered (``unmatched`` when none did)."""
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class ObserveRequests:
    """Request ids, access lines and request metrics for every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = next((v for k, v in scope["headers"] if k == _HEADER), None)
        request_id = request_ids.begin(offered.decode("latin-1") if offered else None)
        started = time.perf_counter()
        status, sent = 500, 0
        length: list[int] = []  # the answer's Content-Length, when it has one

        async def answer(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [h for h in message.get("headers", []) if h[0].lower() != _HEADER]
                message = {**message, "headers": [*headers, (_HEADER, request_id.encode())]}
                length[:] = [int(v) for k, v in headers if k.lower() == b"content-length"][:1]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            elif message["type"] == PATH_SEND and scope["method"] != "HEAD":
                sent += length[0] if length else 0  # the file, as the body of other answers
            await send(message)

        try:
            await self.app(scope, receive, answer)
        finally:
            # The request id stays set: uvicorn's line about a failed request comes after.
            seconds = time.perf_counter() - started
            route = route_of(scope)
            self.metrics.observe(scope["method"], route, status, seconds)
            client = scope.get("client")
            log.info(
                '%s "%s %s" %d %d B %.1f ms',
                client[0] if client else "-",
                scope["method"],
                scope["path"],
                status,
                sent,
                seconds * 1000,
                extra={
                    "fields": {
                        "client": client[0] if client else None,
                        "method": scope["method"],
                        "path": scope["path"],
                        "route": route,
                        "status": status,
                        "bytes": sent,
                        "duration_ms": round(seconds * 1000, 1),
                    }
                },
            )
