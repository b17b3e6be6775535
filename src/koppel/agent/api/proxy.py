"""Which proxy the agent's requests to one server go through (corporate networks).

Two sources, in curl's and httpx's order:

1. the environment: ``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY`` (lower case first, as
   urllib reads them) with ``NO_PROXY`` naming the hosts reached directly;
2. when none of those is set, the operating system's settings as
   :func:`urllib.request.getproxies` reads them (the Windows registry's Internet Options,
   macOS System Settings), with the system's own exception list
   (:func:`urllib.request.proxy_bypass`: Windows' ``ProxyOverride`` including
   ``<local>``, macOS' "Bypass proxy settings for these hosts").

The choice is made here, once per server, and handed to httpx as an explicit proxy, so
that ``koppel doctor`` names exactly the proxy the requests use. httpx's own reading of
the environment would miss the system's exception list.
"""

from __future__ import annotations

import ipaddress
import os
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from koppel.i18n import gettext as _

SCHEMES = ("https", "http", "all")
SYSTEM = "system settings"
# What httpx can speak to (SOCKS needs an extra package and Windows' default is SOCKS4,
# which httpx does not speak): another proxy would make every request fail at once.
USABLE = ("http", "https")


@dataclass(frozen=True)
class ProxyChoice:
    """The proxy for one server (``url`` None: a direct connection) and where it comes from."""

    server: str
    url: str | None
    source: str | None  # "HTTPS_PROXY" (the variable), "system settings", or None
    bypassed_by: str | None = None  # "NO_PROXY" or "system settings" when skipped for it
    unusable: str | None = None  # a proxy set but not usable (SOCKS): requests go direct

    @property
    def shown(self) -> str:
        """The proxy as people may see it: a password in it is masked."""
        return redact(self.url) if self.url else "none"

    def describe(self) -> str:
        """One sentence for ``koppel doctor``."""
        if self.url:
            return _("through the proxy {proxy} (from {source})").format(
                proxy=self.shown, source=self.source
            )
        if self.unusable:
            return _(
                "directly: the proxy {proxy} (from {source}) is not an HTTP proxy, which this "
                "agent needs; ask your IT department for one"
            ).format(proxy=redact(self.unusable), source=self.source)
        if self.bypassed_by:
            return _("directly (the proxy is skipped for this server by {setting})").format(
                setting=self.bypassed_by
            )
        return _("directly (no proxy is set)")

    def as_json(self) -> dict[str, Any]:
        """The choice as ``--json`` prints it."""
        return {
            "server": self.server,
            "proxy": redact(self.url) if self.url else None,
            "source": self.source,
            "bypassed_by": self.bypassed_by,
            "unusable": redact(self.unusable) if self.unusable else None,
        }


def redact(url: str) -> str:
    """``url`` with the password of its user part replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def _with_scheme(proxy: str) -> str:
    # Windows' registry and some variables name a proxy as host:port.
    return proxy if "://" in proxy else f"http://{proxy}"


def environment_proxies(environ: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """The proxies the environment sets: scheme → (proxy, variable name)."""
    found: dict[str, tuple[str, str]] = {}
    for scheme in SCHEMES:
        for name in (f"{scheme}_proxy", f"{scheme.upper()}_PROXY"):
            value = environ.get(name, "").strip()
            if value:
                found[scheme] = (value, name)
                break
    return found


def _no_proxy(environ: Mapping[str, str]) -> str:
    return environ.get("no_proxy") or environ.get("NO_PROXY") or ""


def no_proxy_matches(host: str, port: int | None, no_proxy: str) -> bool:
    """Whether ``NO_PROXY`` names ``host`` (curl's rules, as httpx applies them: ``*``
    for every host; ``example.com`` for it and its subdomains, ``.example.com`` for its
    subdomains only; IP addresses exactly, or within a network such as ``10.0.0.0/8``;
    an entry may end in ``:port``)."""
    host = host.lower().strip("[]")
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        if "://" in entry:
            entry = entry.split("://", 1)[1]
        entry_port: int | None = None
        if entry.count(":") == 1 or (entry.startswith("[") and "]:" in entry):
            entry, _colon, port_text = entry.rpartition(":")
            entry_port = int(port_text) if port_text.isdigit() else None
        entry = entry.strip("[]")
        if entry_port is not None and entry_port != port:
            continue
        if _ip_matches(host, entry):
            return True
        if entry.startswith("."):
            if host.endswith(entry):
                return True
        elif host == entry or host.endswith("." + entry):
            return True
    return False


def _ip_matches(host: str, entry: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
        network = ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False
    return address in network


def choose(
    server: str,
    *,
    environ: Mapping[str, str] | None = None,
    system_proxies: Callable[[], dict[str, str]] = urllib.request.getproxies,
    system_bypass: Callable[[str], Any] = urllib.request.proxy_bypass,
) -> ProxyChoice:
    """The proxy for requests to ``server`` (its base URL). The system's readers are
    parameters so that tests can stand in for the Windows registry and macOS settings."""
    environ = os.environ if environ is None else environ
    parts = urlsplit(server)
    scheme, host, port = parts.scheme or "https", parts.hostname or "", parts.port
    from_env = environment_proxies(environ)
    if from_env:
        picked = from_env.get(scheme) or from_env.get("all")
        if picked is None:
            return ProxyChoice(server, None, None)
        if no_proxy_matches(host, port, _no_proxy(environ)):
            return ProxyChoice(server, None, None, bypassed_by="NO_PROXY")
        return _usable(server, _with_scheme(picked[0]), picked[1])
    # No variable: the operating system's settings (on Linux getproxies reads only the
    # environment, so this finds nothing there).
    system = {k: v for k, v in system_proxies().items() if v}
    proxy = system.get(scheme) or system.get("all")
    if not proxy:
        return ProxyChoice(server, None, None)
    if no_proxy_matches(host, port, system.get("no", "")) or _bypassed(system_bypass, host):
        return ProxyChoice(server, None, None, bypassed_by=SYSTEM)
    return _usable(server, _with_scheme(proxy), SYSTEM)


def _usable(server: str, proxy: str, source: str) -> ProxyChoice:
    if urlsplit(proxy).scheme.lower() in USABLE:
        return ProxyChoice(server, proxy, source)
    return ProxyChoice(server, None, source, unusable=proxy)


def _bypassed(system_bypass: Callable[[str], Any], host: str) -> bool:
    # The platform's readers may fail on an odd registry value: then no exception applies.
    try:
        return bool(system_bypass(host))
    except (OSError, ValueError):
        return False
