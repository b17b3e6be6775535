"""Fakes of what this Linux machine cannot run: the Windows registry (``winreg``) and the
commands the agent runs on Windows and macOS (PowerShell, osacompile, codesign,
lsregister). They record what the agent asks so that the tests can check it exactly."""

from __future__ import annotations

import plistlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any


class FakeKey:
    def __init__(self, path: str) -> None:
        self.path = path
        self.closed = False


class FakeRegistry:
    """The part of ``winreg`` the handler uses, over a dict of key path -> values."""

    HKEY_CURRENT_USER = "HKCU"
    KEY_READ = 0x20019
    KEY_WRITE = 0x20006
    REG_SZ = 1

    def __init__(self) -> None:
        self.keys: dict[str, dict[str, tuple[int, str]]] = {}
        self.opened: list[FakeKey] = []

    def _key(self, root: str, sub_key: str) -> FakeKey:
        assert root == self.HKEY_CURRENT_USER, "only HKEY_CURRENT_USER: no admin rights"
        key = FakeKey(sub_key.lower())
        self.opened.append(key)
        return key

    def CreateKeyEx(self, key: Any, sub_key: str, reserved: int, access: int) -> FakeKey:
        assert access == self.KEY_WRITE
        parts = sub_key.split("\\")
        for depth in range(1, len(parts) + 1):  # like Windows: every missing parent too
            self.keys.setdefault("\\".join(parts[:depth]).lower(), {})
        return self._key(key, sub_key)

    def OpenKey(self, key: Any, sub_key: str, reserved: int, access: int) -> FakeKey:
        if sub_key.lower() not in self.keys:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        return self._key(key, sub_key)

    def SetValueEx(self, key: FakeKey, name: str, reserved: int, kind: int, value: str) -> None:
        self.keys[key.path][name] = (kind, value)

    def QueryValueEx(self, key: FakeKey, name: str) -> tuple[str, int]:
        if name not in self.keys[key.path]:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        kind, value = self.keys[key.path][name]
        return value, kind

    def DeleteKey(self, key: Any, sub_key: str) -> None:
        path = sub_key.lower()
        if path not in self.keys:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        if any(other.startswith(path + "\\") for other in self.keys):
            raise PermissionError(5, "Access is denied")  # RegDeleteKey: has subkeys
        del self.keys[path]

    def CloseKey(self, key: FakeKey) -> None:
        key.closed = True

    def values(self, path: str) -> dict[str, tuple[int, str]]:
        return self.keys[path.lower()]


class FakeRunner:
    """Records commands; ``osacompile -o APP`` makes the bundle skeleton it would."""

    def __init__(self, fail: str | None = None) -> None:
        self.commands: list[list[str]] = []
        self.sources: list[str] = []
        self.fail = fail

    def __call__(self, args: Sequence[str]) -> tuple[int, str]:
        self.commands.append(list(args))
        if self.fail and Path(args[0]).name == self.fail:
            return 1, f"{self.fail}: it failed"
        if args[0] == "osacompile":
            app = Path(args[2])
            self.sources.append(Path(args[3]).read_text(encoding="utf-8"))
            (app / "Contents/MacOS").mkdir(parents=True)
            (app / "Contents/MacOS/applet").write_bytes(b"\xcf\xfa\xed\xfe")
            with (app / "Contents/Info.plist").open("wb") as handle:
                plistlib.dump(
                    {"CFBundleExecutable": "applet", "CFBundlePackageType": "APPL"}, handle
                )
        return 0, ""
