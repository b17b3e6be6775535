"""``koppel://`` links: the portal's "Edit on my computer" button hands an attachment to
the workstation's agent (docs/koppel-links.md).

One format, built by the server and parsed by the agent::

    koppel://edit?server=<server URL>&env=<ENV>&item=<item id>&attachment=<name>

Every value is percent-encoded. ``server`` is the address agents use for the environment
(its ``api_url``), ``attachment`` is optional (the agent then takes the newest). Anything
else is refused: a link can come from any web page, so the agent acts only on links that
are exactly this shape. Free of third-party imports (the agent parses links).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from koppel.protocol.filenames import unsafe_reason

SCHEME = "koppel"
EDIT = "edit"
ACTIONS = (EDIT,)
MAX_LINK_LENGTH = 4096
_ENV_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
_KEYS = frozenset({"server", "env", "item", "attachment"})
_REQUIRED = ("server", "env", "item")


class LinkError(ValueError):
    """A link that is not a ``koppel://`` link this version understands."""


@dataclass(frozen=True)
class EditLink:
    """What an edit link asks: edit ``attachment`` of ``item`` in ``environment`` on
    ``server``."""

    server: str
    environment: str
    item: int
    attachment: str | None = None

    def to_url(self) -> str:
        """The link as the portal writes it."""
        return edit_link(self.server, self.environment, self.item, self.attachment)


def edit_link(server: str, environment: str, item: int, attachment: str | None = None) -> str:
    """``koppel://edit?...`` for an attachment (values percent-encoded, ``%20`` for space)."""
    values = {"server": server.rstrip("/"), "env": environment, "item": str(item)}
    if attachment:
        values["attachment"] = attachment
    return f"{SCHEME}://{EDIT}?{urlencode(values, quote_via=quote, safe='')}"


def _server(value: str) -> str:
    parts = urlsplit(value)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or parts.password is not None
        or parts.query
        or parts.fragment
    ):
        raise LinkError(f"server={value!r} is not a server address (http(s)://host[:port]).")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as exc:
        raise LinkError(f"server={value!r} has a malformed port.") from exc
    return value.rstrip("/")


def parse_link(url: str) -> EditLink:
    """The edit link ``url`` describes; LinkError saying what is wrong otherwise."""
    text = url.strip()
    if len(text) > MAX_LINK_LENGTH:
        raise LinkError(f"The link is longer than {MAX_LINK_LENGTH} characters.")
    parts = urlsplit(text)
    if parts.scheme.lower() != SCHEME:
        raise LinkError(f"{text[:80]!r} is not a {SCHEME}:// link.")
    # Some desktops hand the link over as koppel://edit/?... : the slash means nothing.
    action = parts.netloc.lower()
    if parts.path not in ("", "/") or parts.fragment:
        raise LinkError(f"The link {text[:80]!r} is malformed: expected {SCHEME}://ACTION?...")
    if action not in ACTIONS:
        raise LinkError(
            f"Unknown link action {action!r}; this agent understands: {', '.join(ACTIONS)}."
        )
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=True)
    except ValueError as exc:
        raise LinkError("The link's parameters are malformed.") from exc
    unknown = sorted(set(query) - _KEYS)
    if unknown:
        raise LinkError(f"The link has unknown parameters: {', '.join(unknown)}.")
    repeated = sorted(k for k, v in query.items() if len(v) > 1)
    if repeated:
        raise LinkError(f"The link repeats: {', '.join(repeated)}.")
    values = {key: found[0] for key, found in query.items()}
    missing = [key for key in _REQUIRED if not values.get(key)]
    if missing:
        raise LinkError(f"The link lacks: {', '.join(missing)}.")
    env = values["env"]
    if not _ENV_CODE.match(env):
        raise LinkError(f"env={env!r} is not an environment code.")
    if not values["item"].isdigit() or int(values["item"]) <= 0:
        raise LinkError(f"item={values['item']!r} is not an item id.")
    attachment = values.get("attachment") or None
    if attachment is not None:
        reason = unsafe_reason(attachment)
        if reason:
            raise LinkError(f"attachment={attachment!r} is not a usable file name: {reason}.")
    return EditLink(_server(values["server"]), env.upper(), int(values["item"]), attachment)
