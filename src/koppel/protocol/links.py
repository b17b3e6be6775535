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

from koppel.i18n import gettext as _
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
        raise LinkError(
            _("server={value!r} is not a server address (http(s)://host[:port]).").format(
                value=value
            )
        )
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as exc:
        raise LinkError(_("server={value!r} has a malformed port.").format(value=value)) from exc
    return value.rstrip("/")


def parse_link(url: str) -> EditLink:
    """The edit link ``url`` describes; LinkError saying what is wrong otherwise."""
    text = url.strip()
    if len(text) > MAX_LINK_LENGTH:
        raise LinkError(
            _("The link is longer than {limit} characters.").format(limit=MAX_LINK_LENGTH)
        )
    parts = urlsplit(text)
    if parts.scheme.lower() != SCHEME:
        raise LinkError(
            _("{value!r} is not a {scheme}:// link.").format(value=text[:80], scheme=SCHEME)
        )
    # Some desktops hand the link over as koppel://edit/?... : the slash means nothing.
    action = parts.netloc.lower()
    if parts.path not in ("", "/") or parts.fragment:
        raise LinkError(
            _("The link {value!r} is malformed: expected {scheme}://ACTION?...").format(
                value=text[:80], scheme=SCHEME
            )
        )
    if action not in ACTIONS:
        raise LinkError(
            _("Unknown link action {action!r}; this agent understands: {actions}.").format(
                action=action, actions=", ".join(ACTIONS)
            )
        )
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=True)
    except ValueError as exc:
        raise LinkError(_("The link's parameters are malformed.")) from exc
    unknown = sorted(set(query) - _KEYS)
    if unknown:
        raise LinkError(
            _("The link has unknown parameters: {unknown}.").format(unknown=", ".join(unknown))
        )
    repeated = sorted(k for k, v in query.items() if len(v) > 1)
    if repeated:
        raise LinkError(_("The link repeats: {repeated}.").format(repeated=", ".join(repeated)))
    values = {key: found[0] for key, found in query.items()}
    missing = [key for key in _REQUIRED if not values.get(key)]
    if missing:
        raise LinkError(_("The link lacks: {missing}.").format(missing=", ".join(missing)))
    env = values["env"]
    if not _ENV_CODE.match(env):
        raise LinkError(_("env={env!r} is not an environment code.").format(env=env))
    if not values["item"].isdigit() or int(values["item"]) <= 0:
        raise LinkError(_("item={item!r} is not an item id.").format(item=values["item"]))
    attachment = values.get("attachment") or None
    if attachment is not None:
        reason = unsafe_reason(attachment)
        if reason:
            raise LinkError(
                _("attachment={attachment!r} is not a usable file name: {reason}.").format(
                    attachment=attachment, reason=reason
                )
            )
    return EditLink(_server(values["server"]), env.upper(), int(values["item"]), attachment)
