"""Password hashing with argon2id."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from koppel.i18n import gettext as _
from koppel.protocol.errors import ErrorCode
from koppel.server.domain.errors import DomainError

_HASHER = PasswordHasher()


@cache
def _dummy_hash() -> str:
    # Verifying against this keeps a failed login for an unknown account as slow as a real
    # one. Computed on first use, not at import (every CLI start would pay ~0.1 s for it).
    return _HASHER.hash("koppel-timing-equaliser")


def hash_password(password: str) -> str:
    """An argon2id hash of the password."""
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether the password matches; spends the same time when there is no account."""
    try:
        matches = _HASHER.verify(password_hash or _dummy_hash(), password)
        return matches and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


MIN_LENGTH = 8


def check_rules(password: str) -> None:
    """Refuse a password that breaks the rules (``validation_error``): at least
    ``MIN_LENGTH`` characters, as ``koppel-admin accounts create`` and ``set-password``
    ask."""
    if len(password) < MIN_LENGTH:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            _("Choose a password of at least {count} characters.").format(count=MIN_LENGTH),
        )
