"""Opening a file in the user's default program. ``KOPPEL_OPEN_COMMAND`` (a command line;
the file's path is appended) replaces the default: for tests, or a preferred program."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from koppel.agent.errors import AgentError
from koppel.i18n import gettext as _

OPEN_COMMAND_ENV = "KOPPEL_OPEN_COMMAND"


def open_file(path: Path) -> None:
    """Start the program that shows ``path``; do not wait for it to close."""
    custom = os.environ.get(OPEN_COMMAND_ENV, "").strip()
    try:
        if custom:
            subprocess.Popen([*shlex.split(custom), str(path)], start_new_session=True)
        elif sys.platform == "win32":
            os.startfile(path)  # type: ignore[attr-defined,unused-ignore]
        elif sys.platform == "darwin":
            subprocess.Popen(["open", str(path)], start_new_session=True)
        else:
            subprocess.Popen(
                ["xdg-open", str(path)],
                start_new_session=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
    except OSError as exc:
        raise AgentError(
            _(
                "Could not open {path} ({reason}). Open it yourself, or set {variable} to the "
                "program to use."
            ).format(path=path, reason=exc, variable=OPEN_COMMAND_ENV)
        ) from exc
