"""What ``koppel handler install|status|uninstall`` did or found, on any platform."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class HandlerReport:
    """The handler's registration: where it lives (a .desktop file on Linux, a registry
    key on Windows, an app bundle on macOS), what it runs and what is missing."""

    desktop_file: Path | None
    executable: str | None
    registered: bool
    default_handler: str | None = None
    done: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    platform: str = "linux"
    location: str = ""

    def as_json(self) -> dict[str, Any]:
        """The report as ``--json`` prints it."""
        return {
            "platform": self.platform,
            "location": self.location or (str(self.desktop_file) if self.desktop_file else None),
            "desktop_file": str(self.desktop_file) if self.desktop_file else None,
            "executable": self.executable,
            "registered": self.registered,
            "default_handler": self.default_handler,
            "done": self.done,
            "missing": self.missing,
        }
