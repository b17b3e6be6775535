"""The one exception the domain raises: a refusal with a stable code and a helpful message."""

from __future__ import annotations

from dataclasses import dataclass, field

from koppel.protocol.errors import ErrorCode


@dataclass
class DomainError(Exception):
    """A refusal. ``message`` says what to do; adapters map ``code`` to HTTP or exit codes.

    ``admin_message`` is the same refusal worded for the host's administrator
    (``koppel-admin``) where ``message`` tells a user to ask an administrator: the
    administrator gets the command instead. None when ``message`` suits everyone."""

    code: ErrorCode
    message: str
    environment: str | None = None
    details: list[DomainError] = field(default_factory=list)
    admin_message: str | None = None

    def for_administrator(self) -> str:
        """The message for the host's administrator (``koppel-admin``)."""
        return self.admin_message or self.message

    def __str__(self) -> str:
        return self.message


class StoreConflict(Exception):
    """A change clashed with stored data (a unique key taken by a concurrent transaction);
    the transaction was rolled back. Not a refusal: left unhandled it is a server error."""
