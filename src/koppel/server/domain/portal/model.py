"""What the web portal stores: sessions, failed sign-ins and second factors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass
class WebSession:
    """A signed-in browser on one portal. The cookie carries ``public_id`` and a secret
    whose SHA-256 is ``secret_hash``; forms carry ``csrf_token``, which is derived from
    that secret (known once the cookie was checked) and never stored."""

    public_id: str
    secret_hash: str
    account_id: int
    portal_environment_id: int
    second_factor_done: bool
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    id: int = 0
    csrf_token: str = ""  # empty until the cookie's secret was presented


@dataclass
class SecondFactor:
    """A TOTP secret (base32); usable once ``confirmed_at`` is set."""

    account_id: int
    secret: str
    confirmed_at: datetime | None = None
    last_step: int = 0
    id: int = 0


@dataclass
class RecoveryCode:
    """A single-use code that replaces the second factor once."""

    account_id: int
    code_hash: str
    used_at: datetime | None = None
    id: int = 0


class WebRepository(Protocol):
    """Storage of the portal's state, within one unit of work."""

    def add_session(self, session: WebSession) -> WebSession:
        """Store a new session; it comes back with its id."""
        ...

    def session(self, public_id: str) -> WebSession | None:
        """The session with this public id, if any."""
        ...

    def save_session(self, session: WebSession) -> None:
        """Store a session's changed fields."""
        ...

    def delete_session(self, session_id: int) -> None:
        """End one session."""
        ...

    def delete_sessions_of(self, account_id: int, keep: int | None = None) -> int:
        """End every session of an account (but ``keep``); how many ended."""
        ...

    def delete_sessions_before(self, *, expired: datetime, idle: datetime) -> int:
        """End sessions that expire before ``expired`` or were last seen before ``idle``."""
        ...

    def delete_failures_before(self, at: datetime) -> int:
        """Forget failed sign-ins older than ``at``; how many."""
        ...

    def add_failure(self, login: str, address: str, at: datetime) -> None:
        """Record a failed sign-in."""
        ...

    def failures(self, *, login: str | None = None, address: str | None = None,
                 since: datetime) -> list[datetime]:  # fmt: skip
        """When sign-ins of a login, or from an address, failed since ``since``."""
        ...

    def clear_failures(self, login: str) -> None:
        """Forget a login's failures (after a successful sign-in or an unlock)."""
        ...

    def second_factor(self, account_id: int) -> SecondFactor | None:
        """The account's TOTP enrolment, if any."""
        ...

    def save_second_factor(self, factor: SecondFactor) -> SecondFactor:
        """Insert or update the account's TOTP enrolment."""
        ...

    def delete_second_factor(self, account_id: int) -> None:
        """Remove the account's TOTP enrolment and its recovery codes."""
        ...

    def recovery_codes(self, account_id: int) -> list[RecoveryCode]:
        """The account's recovery codes, used ones included."""
        ...

    def replace_recovery_codes(self, account_id: int, hashes: Sequence[str]) -> None:
        """Drop the account's recovery codes and store these new ones."""
        ...

    def use_recovery_code(self, code_id: int, at: datetime) -> None:
        """Mark one recovery code used."""
        ...
