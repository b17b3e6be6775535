"""The addresses a settings file carries (``api_url``, ``main_site_url``): one rule for the
server that records them and the agent that reads them.

An address is an absolute ``http://`` or ``https://`` URL naming a host, in printable
ASCII (an international domain name in its ``xn--`` form), without a user name or
password, without spaces or control characters; the API address also without a query or
fragment, since the agent appends its paths to it. Free of third-party imports.
"""

from __future__ import annotations

import ipaddress
import re
import string
from urllib.parse import urlsplit

from koppel.i18n import gettext as _
from koppel.protocol.filenames import describe_char

MAX_URL_LENGTH = 500
# RFC 3986: unreserved and reserved characters, and "%" of percent-encoding.
_ALLOWED = frozenset(string.ascii_letters + string.digits + "-._~:/?#[]@!$&'()*+,;=%")
# A host name label; "_" is tolerated (some internal names have it).
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?", re.ASCII)


def url_problem(value: object, *, allow_query: bool = False) -> str | None:
    """Why ``value`` is not a usable address of a Koppel server (or, with
    ``allow_query``, of a portal page); None when it is."""
    if not isinstance(value, str):
        return _("it is not text")
    if not value:
        return _("it is empty")
    if len(value) > MAX_URL_LENGTH:
        return _("it is longer than {limit} characters").format(limit=MAX_URL_LENGTH)
    bad = next((char for char in value if char not in _ALLOWED), None)
    if bad is not None:
        return (
            f"it contains {describe_char(bad)}; an address has no spaces, control "
            "characters or letters outside ASCII (write an international domain name "
            "in its xn-- form)"
        )
    if not value.startswith(("http://", "https://")):
        return _("it does not start with http:// or https://")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return _("its host or port is not valid")
    if "@" in parts.netloc:
        return _("it contains a user name or password (user@host); give the address alone")
    host = parts.hostname or ""
    if not host:
        return _("it names no host")
    if parts.netloc.startswith("["):
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return _("its IPv6 address is not valid")
    elif len(host) > 253 or not all(_LABEL.fullmatch(label) for label in host.split(".")):
        return _("its host name is not valid")
    if port == 0:
        return _("its port is not valid")
    if not allow_query and ("?" in value or "#" in value):
        return _("it contains a query or fragment (? or #)")
    return None


def is_web_url(value: object, *, allow_query: bool = False) -> bool:
    """Whether ``value`` passes :func:`url_problem`."""
    return url_problem(value, allow_query=allow_query) is None
