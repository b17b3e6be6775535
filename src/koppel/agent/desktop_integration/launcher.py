"""The commands the desktop runs: the absolute path of the installed ``koppel`` and, on
Windows, of its windowless twin ``koppelw`` (a ``gui-scripts`` entry point), so that a
click on a link or on "Send to Koppel" opens no console window."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from koppel.agent.errors import AgentError
from koppel.i18n import gettext as _


class Runner(Protocol):
    """Runs a command and returns its exit code and output (``subprocess.run`` in real
    use; the tests pass a fake that records the command)."""

    def __call__(self, args: Sequence[str]) -> tuple[int, str]: ...


def run(args: Sequence[str]) -> tuple[int, str]:
    """Run ``args`` without a console window (Windows) and return (exit code, output)."""
    import subprocess

    flags = getattr(subprocess, "CREATE_NO_WINDOW", 0)
    try:
        done = subprocess.run(
            list(args),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            creationflags=flags,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return 127, str(exc)
    return done.returncode, (done.stderr or done.stdout).strip()


def koppel_executable() -> Path:
    """The absolute path of the running ``koppel`` executable (the desktop runs it)."""
    launched = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if launched is not None and launched.name.startswith("koppel") and launched.is_file():
        return launched.absolute()
    found = shutil.which("koppel")
    if found:
        return Path(found).absolute()
    raise AgentError(
        _(
            "Cannot find the koppel executable to register; run this command from the "
            "installed agent (for example `koppel handler install`)."
        )
    )


def windowless_command(koppel: Path, is_file: Callable[[Path], bool] = Path.is_file) -> list[str]:
    """The command that runs the agent on Windows without a console window: ``koppelw.exe``
    beside ``koppel.exe`` (pip and pipx install both), else ``pythonw.exe -m koppel.agent``
    of the same environment. Only the path's form matters here, so this is testable on
    any platform."""
    folder = koppel.parent
    for name in ("koppelw.exe", "koppelw"):
        candidate = folder / name
        if is_file(candidate):
            return [str(candidate)]
    # An environment's Scripts folder sits beside pythonw.exe's folder (venv) or is it.
    for python in (folder / "pythonw.exe", folder.parent / "pythonw.exe"):
        if is_file(python):
            return [str(python), "-m", "koppel.agent"]
    return [str(koppel)]  # no windowless launcher: a console shows, but it works
