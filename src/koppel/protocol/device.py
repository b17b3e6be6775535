"""The device authorization grant (RFC 8628) between the agent and the server: how the
agent asks for a settings file, a bundle or an installation that the user approves in a
browser, so that the agent never handles the password.

Endpoints (form-encoded requests, JSON answers, as RFC 8628 and RFC 6749 prescribe):
``POST /api/v1/device/authorize`` (``client_id``, ``scope``, ``workstation``) and
``POST /api/v1/device/token`` (``grant_type``, ``device_code``, ``client_id``). The
scope names what is asked: space-separated ``action:ENVIRONMENT`` pairs.
"""

from __future__ import annotations

import re

from koppel.i18n import gettext as _
from koppel.protocol._model import ProtocolModel

CLIENT_ID = "koppel-agent"
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
DEVICE_PREFIX = "/api/v1/device/"
AUTHORIZE_PATH = f"{DEVICE_PREFIX}authorize"
TOKEN_PATH = f"{DEVICE_PREFIX}token"
VERIFICATION_PATH = "/device"

SETTINGS, BUNDLE, INSTALLATION = "settings", "bundle", "installation"
SCOPE_ACTIONS = (SETTINGS, BUNDLE, INSTALLATION)
MAX_SCOPES = 3

_ONE = r"(?:settings|bundle|installation):[A-Za-z0-9][A-Za-z0-9_-]{1,31}"
# The form of a scope, stated in the OpenAPI document: one to three pairs, one space apart.
SCOPE_PATTERN = rf"^{_ONE}(?: {_ONE}){{0,{MAX_SCOPES - 1}}}$"
_PAIR = re.compile(r"^(settings|bundle|installation):([A-Za-z0-9][A-Za-z0-9_-]{1,31})$")


def scope_for(action: str, environment: str) -> str:
    """The scope that asks for one action on one environment (``settings:F10001``)."""
    return f"{action}:{environment.strip().upper()}"


def parse_scope(scope: str) -> list[tuple[str, str]]:
    """The (action, environment code) pairs of a scope (``SCOPE_PATTERN``); codes are
    upper-cased and repeats count once. ValueError when malformed."""
    if not re.match(SCOPE_PATTERN, scope):
        raise ValueError(
            _(
                "{value!r} is not a scope of this server: use settings:CODE, bundle:CODE or "
                "installation:CODE (up to {max_scopes}, one space apart), e.g. settings:F10001."
            ).format(value=scope[:100], max_scopes=MAX_SCOPES)
        )
    pairs: list[tuple[str, str]] = []
    for part in scope.split(" "):
        found = _PAIR.match(part)
        assert found is not None  # the pattern above matched every part
        pair = (found.group(1), found.group(2).upper())
        if pair not in pairs:
            pairs.append(pair)
    return pairs


def scope_text(pairs: list[tuple[str, str]]) -> str:
    """A scope written back from its pairs, in a stable form."""
    return " ".join(f"{action}:{code}" for action, code in pairs)


def describe(action: str, environment: str) -> str:
    """What an approval gives, in the words the user sees on the device page."""
    return {
        SETTINGS: f"the settings file of environment {environment}",
        BUNDLE: f"the settings of every client environment of {environment} you may link",
        INSTALLATION: f"the Koppel installation of environment {environment}",
    }[action]


class DeviceAuthorization(ProtocolModel):
    """The answer to a device authorization request (RFC 8628 section 3.2)."""

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_in: int
    interval: int


class DeviceToken(ProtocolModel):
    """The access token of an approved device authorization (RFC 6749 section 5.1)."""

    access_token: str
    token_type: str
    expires_in: int
    scope: str


class OAuthError(ProtocolModel):
    """An OAuth 2.0 error answer (RFC 6749 section 5.2, RFC 8628 section 3.5): ``error``
    is one of invalid_request, invalid_client, invalid_grant, unsupported_grant_type,
    invalid_scope, authorization_pending, slow_down, access_denied, expired_token."""

    error: str
    error_description: str | None = None
