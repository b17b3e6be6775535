"""The id of the request being handled, for every log line written while it is.

A reverse proxy's id (``X-Request-Id``, nginx's ``$request_id``) is kept when it looks
like one, so that the proxy's log and this server's name the same request; otherwise the
server makes one. Every answer carries it back in the same header.
"""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar

HEADER = "X-Request-Id"
_ACCEPTED = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
# Each request runs in its own asyncio task (uvicorn), and so in its own copy of the
# context: a value set while handling one request is never seen by another.
_current: ContextVar[str | None] = ContextVar("koppel_request_id", default=None)


def current() -> str | None:
    """The id of the request being handled here, if any."""
    return _current.get()


def begin(offered: str | None) -> str:
    """Make ``offered`` (a proxy's id, when acceptable) or a new id the current one."""
    request_id = offered if offered and _ACCEPTED.match(offered) else secrets.token_hex(8)
    _current.set(request_id)
    return request_id
