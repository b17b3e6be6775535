"""How the agent proves who asks for a settings file or an installation.

On a terminal the user approves in the browser (the device authorization grant), so the
agent holds only a short-lived access token for exactly what was approved. Scripts may
give a login and password instead (``KOPPEL_PASSWORD`` or ``--password-stdin``); the
server then applies the portal's lockout, and refuses accounts with two-step verification.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Credential:
    """An approval's access token, or a login and password."""

    access_token: str | None = None
    login: str | None = None
    password: str | None = None

    @property
    def basic(self) -> tuple[str, str] | None:
        """HTTP Basic's pair, for scripts."""
        if self.access_token or self.login is None or self.password is None:
            return None
        return (self.login, self.password)

    def headers(self) -> dict[str, str] | None:
        """The Authorization header of an access token."""
        return {"Authorization": f"Bearer {self.access_token}"} if self.access_token else None
