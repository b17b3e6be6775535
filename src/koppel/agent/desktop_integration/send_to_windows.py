""" "Send to Koppel" on Windows: a shortcut in the user's SendTo folder, which Explorer
shows under *Send to* and runs with the selected files appended. The shortcut runs the
windowless launcher (``koppelw.exe submit --gui FILES…``), so no console window opens.

A ``.lnk`` is a binary format written through COM; ``WScript.Shell``'s
``CreateShortcut`` (in every Windows) does it, driven by one PowerShell command. This
Linux machine cannot run it: the tests check the exact command against a fake runner.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import PureWindowsPath

from koppel.agent.desktop_integration.send_to_linux import COMMENT, NAME
from koppel.i18n import LANGUAGES, translations
from koppel.i18n import gettext as _


def shortcut_name() -> str:
    """The shortcut's file name, which Explorer shows under *Send to*: in the agent's
    language (a shortcut has one name; Explorer's own localized names need a desktop.ini
    in the user's SendTo folder, which is not ours to rewrite)."""
    return f"{_(NAME)}.lnk"


def shortcut_names() -> list[str]:
    """The shortcut's name in every language: an uninstall removes any of them."""
    return list(dict.fromkeys(f"{translations(lang).gettext(NAME)}.lnk" for lang in LANGUAGES))


def shortcut_path(appdata: str | None = None) -> PureWindowsPath:
    """``%APPDATA%\\Microsoft\\Windows\\SendTo\\Send to Koppel.lnk`` (in the agent's language)."""
    base = appdata if appdata is not None else os.environ.get("APPDATA", "")
    return PureWindowsPath(base, "Microsoft", "Windows", "SendTo", shortcut_name())


def _literal(text: str) -> str:
    # A PowerShell single-quoted string: nothing is expanded, a quote is doubled.
    return "'" + text.replace("'", "''") + "'"


def _arguments(parts: Sequence[str]) -> str:
    return " ".join(f'"{part}"' if " " in part else part for part in parts)


def powershell_script(shortcut: PureWindowsPath, launcher: Sequence[str]) -> str:
    """The PowerShell that writes the shortcut."""
    arguments = _arguments([*launcher[1:], "submit", "--gui"])
    return "; ".join(
        [
            "$ErrorActionPreference = 'Stop'",
            "$shell = New-Object -ComObject WScript.Shell",
            f"$link = $shell.CreateShortcut({_literal(str(shortcut))})",
            f"$link.TargetPath = {_literal(launcher[0])}",
            f"$link.Arguments = {_literal(arguments)}",
            f"$link.Description = {_literal(_(COMMENT))}",
            f"$link.IconLocation = {_literal(launcher[0] + ',0')}",
            "$link.Save()",
        ]
    )


def powershell_command(shortcut: PureWindowsPath, launcher: Sequence[str]) -> list[str]:
    """The command line that runs it: no profile, no prompt, no execution policy in the
    way (the script is passed inline, not as a file)."""
    return [
        "powershell.exe",
        "-NoProfile",
        "-NonInteractive",
        "-ExecutionPolicy",
        "Bypass",
        "-Command",
        powershell_script(shortcut, launcher),
    ]
