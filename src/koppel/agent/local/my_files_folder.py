"""The My files folder on this workstation, and the ledger of what was placed there.

Files go to ``~/Downloads/Koppel/<environment name>/`` (``KOPPEL_DOWNLOADS_DIR`` replaces
``~/Downloads/Koppel``). The agent remembers, per server, which files it placed and the
last event it handled (``watch.json`` in its data folder), so that a file is never
placed twice, even when marking it delivered on the server failed.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from koppel.agent.local import paths
from koppel.agent.local.atomic import atomic_write_bytes
from koppel.agent.local.file_names import local_name, numbered

DOWNLOADS_ENV = "KOPPEL_DOWNLOADS_DIR"
# How many delivered file ids are remembered per server (the newest).
_REMEMBERED = 5000

# The suffix of a file being received; never seen under its final name half-written.
PART_SUFFIX = ".koppel-part"


def my_files_root() -> Path:
    """Where delivered files go: ``$KOPPEL_DOWNLOADS_DIR`` or ``~/Downloads/Koppel``."""
    override = os.environ.get(DOWNLOADS_ENV)
    if override:
        return Path(override).expanduser()
    return Path.home() / "Downloads" / "Koppel"


def my_files_folder_of(environment_name: str, environment_code: str) -> Path:
    """The download folder of one environment: its name, made safe and short enough for
    the file system (its code when nothing of the name is left)."""
    root = my_files_root()
    return root / local_name(environment_name, root, fallback=environment_code)


class Ledger:
    """Per server: the last handled event id and the files placed here (``watch.json``)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.data_dir() / "watch.json"
        self._lock = threading.Lock()
        self._data: dict[str, Any] = {"servers": {}}
        if self.path.exists():
            try:
                loaded = json.loads(self.path.read_text())
                if isinstance(loaded, dict) and isinstance(loaded.get("servers"), dict):
                    self._data = loaded
            except (OSError, ValueError):
                pass  # a damaged ledger only costs a re-check with the server

    def _server(self, server: str) -> dict[str, Any]:
        entry: dict[str, Any] = self._data["servers"].setdefault(
            server, {"cursor": None, "delivered": []}
        )
        return entry

    def cursor(self, server: str) -> int | None:
        """The last event handled from ``server`` (None: never followed)."""
        with self._lock:
            value = self._server(server).get("cursor")
            return int(value) if value is not None else None

    def set_cursor(self, server: str, event_id: int) -> None:
        """Remember the last event handled."""
        with self._lock:
            entry = self._server(server)
            if entry.get("cursor") is None or event_id > int(entry["cursor"]):
                entry["cursor"] = event_id
                self._save()

    def placed(self, server: str, file_id: int) -> bool:
        """Whether this workstation already has the file."""
        with self._lock:
            return file_id in self._server(server)["delivered"]

    def add_placed(self, server: str, file_id: int) -> None:
        """Remember that the file is here (before telling the server)."""
        with self._lock:
            delivered: list[int] = self._server(server)["delivered"]
            if file_id not in delivered:
                delivered.append(file_id)
                del delivered[:-_REMEMBERED]
                self._save()

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write_bytes(self.path, json.dumps(self._data).encode())


def unique_target(folder: Path, name: str) -> Path:
    """``folder/name``, or ``name (2).ext``, ``name (3).ext``... when it exists (each
    shortened to what the folder's file system takes)."""
    candidate = folder / name
    number = 2
    while candidate.exists():
        candidate = folder / numbered(name, number, folder)
        number += 1
    return candidate


def place(temp: Path, folder: Path, name: str) -> Path:
    """Give a received file (``temp``, in ``folder``) its own unique name there; the path."""
    # A hard link never replaces an existing file, even if another process raced us.
    while True:
        target = unique_target(folder, name)
        try:
            os.link(temp, target)
            return target
        except FileExistsError:
            continue
        except OSError:  # no hard links on this file system
            if target.exists():
                continue
            os.replace(temp, target)
            return target
