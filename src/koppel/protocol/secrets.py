"""The shape of user tokens, enrollment codes, device-approval access tokens and
integration API keys.

All are ``<prefix><public id>_<secret>``: the prefix makes a leaked token recognisable
(secret scanners, logs), the public id lets the server find the row without comparing
secrets, and the secret (256 bits) is stored only as a hash and compared in constant time.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass

TOKEN_PREFIX = "kplt_"
ENROLLMENT_PREFIX = "kple_"
# A short-lived token from an approved device authorization (RFC 8628): it may fetch the
# settings, bundle or installation the user approved, nothing else.
ACCESS_PREFIX = "kpla_"
# An integration's API key: pushes files into My files of one environment's users.
INTEGRATION_PREFIX = "kpli_"
_SECRET_BYTES = 32
_PUBLIC_ID_BYTES = 9


@dataclass(frozen=True)
class SecretParts:
    """A token or enrollment code split into its public id and its secret."""

    public_id: str
    secret: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def new_secret(prefix: str) -> tuple[str, SecretParts]:
    """Make a fresh ``prefix + id + '_' + secret`` string and its parts."""
    # The public id is hex so that it never contains the "_" separator.
    public_id = secrets.token_hex(_PUBLIC_ID_BYTES)
    secret = _b64(secrets.token_bytes(_SECRET_BYTES))
    return f"{prefix}{public_id}_{secret}", SecretParts(public_id, secret)


def split_secret(text: str, prefix: str) -> SecretParts | None:
    """Split a presented token or code; None when it does not have the expected shape."""
    if not text.startswith(prefix):
        return None
    public_id, sep, secret = text[len(prefix) :].partition("_")
    if not sep or len(public_id) != 2 * _PUBLIC_ID_BYTES or len(secret) < 40:
        return None
    return SecretParts(public_id, secret)
