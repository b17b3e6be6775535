"""The one exception the domain raises: a refusal with a stable code and a helpful message."""

from __future__ import annotations

from dataclasses import dataclass, field

from koppel.protocol.errors import ErrorCode


@dataclass
class DomainError(Exception):
    """A refusal. ``message`` says what to do; adapters map ``code`` to HTTP or exit codes."""

    code: ErrorCode
    message: str
    environment: str | None = None
    details: list[DomainError] = field(default_factory=list)

    def __str__(self) -> str:
        return self.message
