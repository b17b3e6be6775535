"""The agent packages "Save installation" hands out: one per update."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from koppel.protocol.updates import Update


class AgentPackages(Protocol):
    """Where the agent wheel of each update comes from."""

    def wheel_for(self, update: Update) -> Path:
        """The agent wheel of an update (built or found on first use)."""
        ...
