"""Settings of the rules that an operator may tune, and the clock the rules read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from koppel.protocol.updates import AGENT_UPDATE, Update, supported_updates


def utc_now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class AddressOrigin(StrEnum):
    """Where ``Policy.public_url`` came from."""

    CONFIGURATION = "configuration"  # KOPPEL_PUBLIC_URL / --public-url, or the server's own
    SERVER = "server"  # what the server announced at its last start (koppel-admin)
    UNKNOWN = "unknown"  # neither: a guess that must not be recorded anywhere


@dataclass(frozen=True)
class Policy:
    """What the rules need from configuration."""

    public_url: str = "http://127.0.0.1:8080"
    address_origin: AddressOrigin = AddressOrigin.CONFIGURATION
    enrollment_ttl: timedelta = timedelta(minutes=15)
    token_lifetime: timedelta | None = timedelta(days=365)
    current_update: Update = AGENT_UPDATE
    # The portal: a session ends after this much inactivity, and at the latest after
    # session_max; sign_in_attempts failures within lockout lock the login for lockout.
    session_idle: timedelta = timedelta(hours=1)
    session_max: timedelta = timedelta(hours=12)
    sign_in_attempts: int = 5
    lockout: timedelta = timedelta(minutes=15)
    # Failures from one address, over all logins, before that address must wait too.
    address_attempts: int = 30
    clock: Callable[[], datetime] = field(default=utc_now)

    @property
    def supported_updates(self) -> tuple[Update, Update]:
        """The updates this server release hosts."""
        return supported_updates(self.current_update)

    @property
    def address_known(self) -> bool:
        """Whether ``public_url`` is the server's real address rather than a guess."""
        return self.address_origin is not AddressOrigin.UNKNOWN

    def portal_url(self, code: str) -> str:
        """The default portal ("main site") address of an environment with a portal."""
        return f"{self.public_url.rstrip('/')}/portal/{code}"

    def is_portal_address(self, url: str, code: str) -> bool:
        """Whether ``url`` is a Koppel portal address of ``code`` (at this or any older
        address of the server): such a main site follows the server when it moves."""
        path = url.strip().rstrip("/").split("://", 1)[-1].partition("/")[2]
        return path.lower() == f"portal/{code}".lower()
