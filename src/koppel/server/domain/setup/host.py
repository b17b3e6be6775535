"""What the host knows of itself: an identity that proves an address reaches this host,
and the public address its server announced at start (the one place ``koppel-admin``
takes the agents' address from when it is not configured itself)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from koppel.server.domain.model import Environment

HOST_ID = "host_id"
PUBLIC_URL = "public_url"
# "Every interface": an address to bind to, never one to connect to (on another computer
# it means that computer itself). As a bare host and as in a URL.
_UNSPECIFIED = frozenset({"", "0.0.0.0", "::", "[::]", "0:0:0:0:0:0:0:0", "[0:0:0:0:0:0:0:0]"})


class HostSettings(Protocol):
    """Named values of the host, shared by its replicas and its administration."""

    def get(self, name: str) -> str | None:
        """The value recorded under ``name``, or None."""
        ...

    def put(self, name: str, value: str, at: datetime) -> None:
        """Record ``value`` under ``name``, replacing an earlier one."""
        ...


@dataclass(frozen=True)
class Reach:
    """What answered at an address: this host (``ok``), or what went wrong instead."""

    ok: bool
    detail: str


def host_id(store: HostSettings, now: datetime) -> str:
    """The host's identity, made once (random, not secret: it only tells hosts apart)."""
    found = store.get(HOST_ID)
    if found:
        return found
    made = secrets.token_hex(16)
    store.put(HOST_ID, made, now)
    return made


def announce(store: HostSettings, public_url: str, now: datetime) -> str | None:
    """Record the address the server announces; returns the earlier one when it differs
    (None when it is the same or the first)."""
    host_id(store, now)
    url = normalized(public_url)
    earlier = store.get(PUBLIC_URL)
    if earlier != url:
        store.put(PUBLIC_URL, url, now)
    return earlier if earlier not in (None, url) else None


def announced_address(store: HostSettings) -> str | None:
    """The address the server announced at its last start, if any."""
    return store.get(PUBLIC_URL)


def normalized(url: str) -> str:
    """An address as recorded and compared: trimmed, without a trailing slash."""
    return url.strip().rstrip("/")


def elsewhere(envs: Iterable[Environment], public_url: str) -> list[Environment]:
    """The environments whose recorded API URL is not this server's address (their
    employees' links would go elsewhere, or nowhere)."""
    url = normalized(public_url)
    return [e for e in envs if e.api_url and normalized(e.api_url) != url]


def unspecified(host: str) -> bool:
    """Whether ``host`` (bare, or the host part of a URL) names every interface."""
    return host in _UNSPECIFIED


def host_of(url: str) -> str:
    """The host part of an ``http(s)://host[:port]/...`` address (IPv6 in brackets)."""
    netloc = url.split("://", 1)[-1].split("/", 1)[0]
    return netloc if netloc.endswith("]") else netloc.rsplit(":", 1)[0]
