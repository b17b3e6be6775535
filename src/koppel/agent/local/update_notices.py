"""What the background update check remembers between runs: when it last asked the
servers, and which releases the user was already told about (so each is told once).

A small JSON file in the agent's data folder, written atomically; a damaged or missing
file reads as "never checked, nothing told" (the worst outcome is one notification more).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from koppel.agent.local import paths
from koppel.agent.local.atomic import atomic_write_bytes

FILE_NAME = "update-check.json"


@dataclass
class UpdateNotices:
    """The last completed check (aware UTC datetime) and the release versions notified."""

    last_check: datetime | None = None
    notified: list[str] = field(default_factory=list)


def notices_file() -> Path:
    """Where the notices live: beside the state, in the user's data folder."""
    return paths.data_dir() / FILE_NAME


def load(path: Path | None = None) -> UpdateNotices:
    """The notices as last saved; empty ones when there are none or they are unreadable."""
    path = path or notices_file()
    try:
        data = json.loads(path.read_bytes())
        last = data.get("last_check")
        return UpdateNotices(
            last_check=datetime.fromisoformat(last) if isinstance(last, str) else None,
            notified=[str(v) for v in data.get("notified", []) if isinstance(v, str)],
        )
    except (OSError, ValueError, AttributeError, TypeError):
        return UpdateNotices()


def save(notices: UpdateNotices, path: Path | None = None) -> None:
    """Write the notices atomically (a reader sees the old file or the new one)."""
    if path is None:
        paths.ensure_data_dir()  # private to the user, as the state's folder
        path = notices_file()
    data = {
        "last_check": notices.last_check.isoformat() if notices.last_check else None,
        # The newest few are enough to never tell one release twice.
        "notified": notices.notified[-20:],
    }
    atomic_write_bytes(path, json.dumps(data, indent=1).encode() + b"\n")
