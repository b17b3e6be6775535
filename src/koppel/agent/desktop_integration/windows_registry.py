"""The ``koppel://`` handler on Windows: a URL protocol under
``HKEY_CURRENT_USER\\Software\\Classes\\koppel`` (no administrator rights needed), written
with ``winreg``. The command is the windowless launcher, so a click on a link opens no
console window.

The registry is a parameter: the real ``winreg`` on Windows, a fake in the tests (this
Linux machine has no registry; the tests check the keys and values written).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from koppel.protocol.links import SCHEME

CLASSES = r"Software\Classes"
ROOT = rf"{CLASSES}\{SCHEME}"
COMMAND_KEY = rf"{ROOT}\shell\open\command"
# Deleted leaf first: RegDeleteKey refuses a key that still has subkeys.
KEYS_DEEPEST_FIRST = (COMMAND_KEY, rf"{ROOT}\shell\open", rf"{ROOT}\shell", ROOT)
DESCRIPTION = "URL:Koppel link"
SHOWN_AS = rf"HKEY_CURRENT_USER\{ROOT}"


class Registry(Protocol):
    """The part of ``winreg`` used here."""

    HKEY_CURRENT_USER: Any
    KEY_READ: int
    KEY_WRITE: int
    REG_SZ: int

    def CreateKeyEx(self, key: Any, sub_key: str, reserved: int, access: int) -> Any: ...
    def OpenKey(self, key: Any, sub_key: str, reserved: int, access: int) -> Any: ...
    def SetValueEx(self, key: Any, name: str, reserved: int, kind: int, value: str) -> None: ...
    def QueryValueEx(self, key: Any, name: str) -> tuple[Any, int]: ...
    def DeleteKey(self, key: Any, sub_key: str) -> None: ...
    def CloseKey(self, key: Any) -> None: ...


def real_registry() -> Registry:
    """The ``winreg`` module (Windows only)."""
    registry: Registry = importlib.import_module("winreg")
    return registry


def command_line(parts: Sequence[str]) -> str:
    """A Windows command line with every part quoted: ``"C:\\...\\koppelw.exe" "open-link"
    "%1"``; Windows paths cannot contain a double quote, and the link is quoted so that
    the shell passes it as one argument."""
    return " ".join(f'"{part}"' for part in parts)


def handler_command(launcher: Sequence[str]) -> str:
    """The ``shell\\open\\command`` default value: the launcher, ``open-link``, the link."""
    return command_line([*launcher, "open-link", "%1"])


@dataclass
class RegistryState:
    """What the registry says about the handler."""

    protocol: bool  # the key exists with its (empty) ``URL Protocol`` value
    command: str | None  # the ``shell\\open\\command`` default value


def install(registry: Registry, launcher: Sequence[str]) -> str:
    """Write the protocol keys; returns the command written."""
    command = handler_command(launcher)
    key = registry.CreateKeyEx(registry.HKEY_CURRENT_USER, ROOT, 0, registry.KEY_WRITE)
    try:
        registry.SetValueEx(key, "", 0, registry.REG_SZ, DESCRIPTION)
        registry.SetValueEx(key, "URL Protocol", 0, registry.REG_SZ, "")
    finally:
        registry.CloseKey(key)
    key = registry.CreateKeyEx(registry.HKEY_CURRENT_USER, COMMAND_KEY, 0, registry.KEY_WRITE)
    try:
        registry.SetValueEx(key, "", 0, registry.REG_SZ, command)
    finally:
        registry.CloseKey(key)
    return command


def _value(registry: Registry, path: str, name: str) -> str | None:
    try:
        key = registry.OpenKey(registry.HKEY_CURRENT_USER, path, 0, registry.KEY_READ)
    except OSError:
        return None
    try:
        value, _ = registry.QueryValueEx(key, name)
    except OSError:
        return None
    finally:
        registry.CloseKey(key)
    return str(value)


def state(registry: Registry) -> RegistryState:
    """Read the handler's keys."""
    return RegistryState(
        protocol=_value(registry, ROOT, "URL Protocol") is not None,
        command=_value(registry, COMMAND_KEY, ""),
    )


def uninstall(registry: Registry) -> bool:
    """Delete the protocol keys; ``False`` when there were none."""
    removed = False
    for path in KEYS_DEEPEST_FIRST:
        try:
            registry.DeleteKey(registry.HKEY_CURRENT_USER, path)
            removed = True
        except OSError:
            continue  # absent: nothing to delete (or a key of ours another tool added to)
    return removed
