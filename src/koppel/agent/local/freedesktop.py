"""Shared by the Linux integrations and the XDG autostart entry: the freedesktop data
folders and the quoting of a desktop entry's ``Exec`` key."""

from __future__ import annotations

import os
from pathlib import Path


def data_home() -> Path:
    """``$XDG_DATA_HOME``, by default ``~/.local/share``."""
    return Path(os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local/share"))


def applications_dir() -> Path:
    """Where per-user .desktop files go: ``$XDG_DATA_HOME/applications``."""
    return data_home() / "applications"


def exec_argument(value: str) -> str:
    """One argument of an ``Exec`` key, quoted when it needs to be."""
    # Desktop Entry spec: quote arguments with reserved characters; inside quotes escape
    # " ` $ \ with a backslash; a literal % is %%. Then the string value escapes \ again.
    if value and not any(c in value for c in " \t\n\"'\\><~|&;$*?#()`%"):
        return value
    quoted = "".join("\\" + c if c in '"`$\\' else c for c in value).replace("%", "%%")
    return f'"{quoted}"'.replace("\\", "\\\\")
