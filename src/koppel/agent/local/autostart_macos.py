"""Autostart on macOS: a LaunchAgent (``~/Library/LaunchAgents/nl.koppel.agent.plist``)
that launchd starts at login, loaded at once with ``launchctl bootstrap gui/UID``.

The plist is a pure function of the command (tested as golden bytes); ``launchctl`` goes
through a runner the caller passes.
"""

from __future__ import annotations

import plistlib
from collections.abc import Sequence
from pathlib import Path

from koppel.agent.local.system_commands import Runner

LABEL = "nl.koppel.agent"


def plist_path(home: Path | None = None) -> Path:
    """Where the LaunchAgent goes."""
    return (home or Path.home()) / "Library" / "LaunchAgents" / f"{LABEL}.plist"


def log_path(home: Path | None = None) -> Path:
    """Where launchd writes what the agent prints (Console.app shows ~/Library/Logs)."""
    return (home or Path.home()) / "Library" / "Logs" / "koppel-agent.log"


def launch_agent(command: Sequence[str], home: Path | None = None) -> bytes:
    """The LaunchAgent plist that runs ``command`` at login, and again if it fails (not
    when it quits normally: "Quit" in the tray means quit)."""
    log = str(log_path(home))
    return plistlib.dumps(
        {
            "Label": LABEL,
            "ProgramArguments": list(command),
            "RunAtLoad": True,
            "KeepAlive": {"SuccessfulExit": False},
            # Interactive: the agent serves the user (notifications, the tray), so launchd
            # does not throttle it as a background job.
            "ProcessType": "Interactive",
            "StandardOutPath": log,
            "StandardErrorPath": log,
        },
        fmt=plistlib.FMT_XML,
    )


def domain(uid: int) -> str:
    """The user's GUI launchd domain."""
    return f"gui/{uid}"


def bootstrap(runner: Runner, uid: int, path: Path) -> tuple[bool, str]:
    """Load the LaunchAgent now (unloading an older copy first, so that enabling twice
    loads the current file); (done, launchctl's message)."""
    runner(["launchctl", "bootout", f"{domain(uid)}/{LABEL}"])
    answer = runner(["launchctl", "bootstrap", domain(uid), str(path)])
    return answer.returncode == 0, (answer.stderr or answer.stdout).strip()


def bootout(runner: Runner, uid: int) -> bool:
    """Unload the LaunchAgent; False when it was not loaded."""
    return runner(["launchctl", "bootout", f"{domain(uid)}/{LABEL}"]).returncode == 0


def loaded(runner: Runner, uid: int) -> bool:
    """Whether launchd has the LaunchAgent loaded."""
    return runner(["launchctl", "print", f"{domain(uid)}/{LABEL}"]).returncode == 0


def program_arguments(path: Path) -> list[str] | None:
    """The command of an installed LaunchAgent (None when there is none or it is unreadable)."""
    try:
        with path.open("rb") as source:
            data = plistlib.load(source)
    except (OSError, plistlib.InvalidFileException, ValueError):
        return None
    arguments = data.get("ProgramArguments") if isinstance(data, dict) else None
    return [str(a) for a in arguments] if isinstance(arguments, list) else None
