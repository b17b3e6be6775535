"""The agent packages "Save installation" hands out: one per update, and the newest release
of each that a linked agent compares itself with (``koppel update check``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from koppel.i18n import gettext as _
from koppel.protocol.errors import ErrorCode
from koppel.protocol.updates import Update
from koppel.server.domain.errors import DomainError
from koppel.server.domain.model import Environment


@dataclass(frozen=True)
class AgentWheel:
    """One agent wheel: where it is, its release version, SHA-256 and size."""

    path: Path
    version: str
    sha256: str
    size: int


class AgentPackages(Protocol):
    """Where the agent wheel of each update comes from."""

    def wheel_for(self, update: Update) -> Path:
        """The agent wheel of an update (built or found on first use)."""
        ...

    def release_of(self, update: Update) -> AgentWheel | None:
        """The newest agent wheel of ``update`` described, or None when there is none."""
        ...


def release_for(packages: AgentPackages, environment: Environment) -> AgentWheel:
    """The newest agent release of the environment's update: a linked agent is offered
    only releases of its own environments' update, never another update's (that stays
    ``update_mismatch``)."""
    update = Update.parse(environment.update)
    wheel = packages.release_of(update)
    if wheel is None:
        raise DomainError(
            ErrorCode.NOT_FOUND,
            _(
                "This server has no agent release of update {update} to offer. Ask the "
                "server's administrator to add one (`koppel-admin installation build`)."
            ).format(update=update),
            environment=environment.code,
        )
    return wheel
