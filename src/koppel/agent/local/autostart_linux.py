"""Autostart on Linux: a systemd user unit when the user's service manager answers, else an
XDG autostart entry (started by the desktop session at login: GNOME, KDE, Xfce, ...).

The file contents are pure functions of the command to run, so that they are tested as
golden strings; the ``systemctl`` calls go through a runner the caller passes.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from koppel.agent.local.freedesktop import exec_argument
from koppel.agent.local.system_commands import Runner

UNIT_NAME = "koppel-agent.service"
DESKTOP_NAME = "koppel-agent.desktop"
DESCRIPTION = "Koppel agent: sends queued submissions and receives files"


def config_home() -> Path:
    """``$XDG_CONFIG_HOME``, ``~/.config`` when unset (the XDG Base Directory spec)."""
    value = os.environ.get("XDG_CONFIG_HOME", "")
    # The spec: a relative path is invalid and ignored.
    return Path(value) if os.path.isabs(value) else Path.home() / ".config"


def unit_path() -> Path:
    """Where the user unit goes: ``~/.config/systemd/user/koppel-agent.service``."""
    return config_home() / "systemd" / "user" / UNIT_NAME


def desktop_path() -> Path:
    """Where the XDG autostart entry goes: ``~/.config/autostart/koppel-agent.desktop``."""
    return config_home() / "autostart" / DESKTOP_NAME


def _systemd_word(word: str) -> str:
    # systemd.syntax: quote words with spaces or quotes (backslash escapes inside the
    # quotes); specifiers start with % and variables with $, both doubled to be literal.
    text = word.replace("%", "%%").replace("$", "$$")
    if text and not any(c in text for c in " \t\"'\\;"):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unit_file(command: Sequence[str]) -> str:
    """The systemd user unit that runs ``command`` for the logged-in user: started with
    the user's session (``default.target``), restarted when it fails, not when it quits."""
    return (
        "[Unit]\n"
        f"Description={DESCRIPTION}\n"
        "\n"
        "[Service]\n"
        "Type=simple\n"
        f"ExecStart={' '.join(_systemd_word(word) for word in command)}\n"
        "Restart=on-failure\n"
        "RestartSec=10\n"
        "\n"
        "[Install]\n"
        "WantedBy=default.target\n"
    )


def desktop_entry(command: Sequence[str]) -> str:
    """The XDG autostart entry that runs ``command`` when the user's desktop session starts."""
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Name=Koppel agent\n"
        f"Comment={DESCRIPTION}\n"
        f"Exec={' '.join(exec_argument(word) for word in command)}\n"
        "Terminal=false\n"
        "NoDisplay=true\n"
        "X-GNOME-Autostart-enabled=true\n"
    )


def systemctl(runner: Runner, *args: str) -> subprocess.CompletedProcess[str]:
    """``systemctl --user ARGS``."""
    return runner(["systemctl", "--user", *args])


def user_manager_answers(runner: Runner) -> bool:
    """Whether a systemd user manager runs for this user (not in containers, on WSL
    without systemd, or on distributions without systemd)."""
    return systemctl(runner, "--no-pager", "show", "--property=Version").returncode == 0


def exec_line(path: Path, key: str) -> str | None:
    """The value of ``key=`` in a unit or desktop file we wrote (None when absent)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    return next((line[len(key) + 1 :] for line in lines if line.startswith(key + "=")), None)
