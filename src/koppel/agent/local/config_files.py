"""Small files the agent installs in the user's configuration (autostart entries): written
atomically and only when their content changes, removed by their exact path."""

from __future__ import annotations

from pathlib import Path

from koppel.agent.local.atomic import atomic_write_bytes

# Readable by the service managers and desktop sessions that load them; never writable
# by others (launchd refuses such a LaunchAgent).
MODE = 0o644


def write_if_changed(path: Path, data: bytes) -> bool:
    """Make ``path`` hold ``data``; False when it already did (nothing written)."""
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, data, MODE)
    return True


def remove(path: Path) -> bool:
    """Delete ``path``; False when it was not there."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
