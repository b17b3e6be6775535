"""Autostart on Windows: a value under ``HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run``
(per user, no administrator rights), written with ``winreg``.

The registry module is a parameter (``winreg`` on Windows, a fake in the tests), and the
command line is built with Windows' own quoting rules.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
VALUE_NAME = "Koppel agent"
LOCATION = rf"HKEY_CURRENT_USER\{RUN_KEY}\{VALUE_NAME}"


def windowless(executable: Path) -> Path:
    """``koppelw.exe`` beside ``koppel.exe`` when installed (a gui-script: pythonw, so no
    console window opens at every login); else the console ``koppel.exe`` itself.

    pip's launchers strip ``.exe`` from ``sys.argv[0]``, so ``executable`` may come
    without it."""
    folder = executable.parent
    for name in ("koppelw.exe", "koppelw"):
        if (folder / name).is_file():
            return folder / name
    with_exe = executable.with_name(executable.name + ".exe")
    return with_exe if not executable.suffix and with_exe.is_file() else executable


def command_line(command: Sequence[str]) -> str:
    """``command`` as one Windows command line (paths with spaces quoted)."""
    return subprocess.list2cmdline(list(command))


def write(registry: Any, command: Sequence[str]) -> bool:
    """Set the Run value; False when it already held exactly this command."""
    line = command_line(command)
    if read(registry) == line:
        return False
    with registry.CreateKeyEx(
        registry.HKEY_CURRENT_USER, RUN_KEY, 0, registry.KEY_SET_VALUE
    ) as key:
        registry.SetValueEx(key, VALUE_NAME, 0, registry.REG_SZ, line)
    return True


def read(registry: Any) -> str | None:
    """The Run value's command line (None when there is none)."""
    try:
        with registry.OpenKey(registry.HKEY_CURRENT_USER, RUN_KEY, 0, registry.KEY_READ) as key:
            value, _kind = registry.QueryValueEx(key, VALUE_NAME)
    except FileNotFoundError:
        return None
    return str(value)


def delete(registry: Any) -> bool:
    """Remove the Run value (only ours, by its name); False when it was not there."""
    try:
        with registry.OpenKey(
            registry.HKEY_CURRENT_USER, RUN_KEY, 0, registry.KEY_SET_VALUE
        ) as key:
            registry.DeleteValue(key, VALUE_NAME)
    except FileNotFoundError:
        return False
    return True
