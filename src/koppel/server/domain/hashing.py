"""Hashes and signatures for tokens, enrollment codes and settings files."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from koppel.protocol.settings_file import canonical_bytes

_SIGNATURE_SCHEME = "hmac-sha256:"


def hash_secret(secret: str) -> str:
    """The stored form of a 256-bit random secret (no salt or stretching needed)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(stored_hash: str, secret: str) -> bool:
    """Compare a presented secret with a stored hash in constant time."""
    return hmac.compare_digest(stored_hash, hash_secret(secret))


def derive_secret(secret: str, purpose: str) -> str:
    """A value derived from a 256-bit secret for one purpose (HMAC-SHA256, base64url):
    whoever sees it learns nothing of the secret, whoever holds the secret derives it."""
    digest = hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign_document(key: bytes, document: dict[str, Any]) -> str:
    """The signature of a settings document's canonical JSON."""
    digest = hmac.new(key, canonical_bytes(document), hashlib.sha256).digest()
    return _SIGNATURE_SCHEME + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def signature_valid(key: bytes, document: dict[str, Any]) -> bool:
    """Whether a settings document is exactly as the server issued it."""
    presented = document.get("signature")
    if not isinstance(presented, str):
        return False
    try:
        expected = sign_document(key, document)
    except UnicodeEncodeError:
        return False  # a lone surrogate somewhere: no document this server signed
    # Compared as bytes: compare_digest refuses str with non-ASCII characters.
    return hmac.compare_digest(presented.encode("utf-8", "surrogatepass"), expected.encode())
