"""What an edit session remembers, in the agent's data folder (atomic writes).

One folder per session: ``edit/<ENV>/<item>-<attachment>/`` with ``session.json``, the
working copy in ``work/`` (the only folder watched), ``outgoing/`` (a snapshot of the
file while it is uploaded, so later saves cannot change it mid-upload) and ``control``,
a file another ``koppel edit --finish/--discard`` writes and the watcher polls.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from koppel.agent.local.atomic import atomic_write_bytes
from koppel.agent.local.paths import data_dir

FINISH = "finish"
DISCARD = "discard"


def sessions_root() -> Path:
    """The folder of every edit session."""
    return data_dir() / "edit"


@dataclass
class Session:
    """One attachment being edited on this workstation."""

    environment: str
    item: int
    attachment_id: int
    attachment: str
    api_url: str
    etag: str  # the server version the working copy is based on
    number: int
    synced_sha256: str  # the content last saved to (or read from) the server
    started: str
    pid: int | None = None
    conflicts: list[int] = field(default_factory=list)

    @property
    def folder(self) -> Path:
        """The session's folder."""
        return sessions_root() / self.environment / f"{self.item}-{self.attachment_id}"

    @property
    def work_folder(self) -> Path:
        """The folder with the working copy (watched)."""
        return self.folder / "work"

    @property
    def path(self) -> Path:
        """The working copy."""
        return self.work_folder / self.attachment

    @property
    def control(self) -> Path:
        """The file another process writes to finish or discard the session."""
        return self.folder / "control"

    def save(self) -> None:
        """Write the session file atomically."""
        data = json.dumps(asdict(self), indent=2).encode()
        atomic_write_bytes(self.folder / "session.json", data)

    def watching(self) -> bool:
        """Whether a watcher process of this session is still running."""
        return self.pid is not None and pid_alive(self.pid)

    def as_json(self) -> dict[str, Any]:
        """The session as ``--list --json`` prints it."""
        return {
            "environment": self.environment,
            "item": self.item,
            "attachment": self.attachment,
            "attachment_id": self.attachment_id,
            "version": self.number,
            "path": str(self.path),
            "watching": self.watching(),
            "pid": self.pid if self.watching() else None,
            "conflicts": self.conflicts,
        }

    def remove(self) -> None:
        """Forget the session and its working copy. The folder is renamed away first, so
        that another process (``--finish`` waiting) never sees it half removed."""
        doomed = self.folder.with_name(f".{self.folder.name}.removing")
        try:
            self.folder.rename(doomed)
        except OSError:
            doomed = self.folder
        shutil.rmtree(doomed, ignore_errors=True)


def load(folder: Path) -> Session | None:
    """The session stored in a folder, if readable."""
    try:
        data = json.loads((folder / "session.json").read_text(encoding="utf-8"))
        return Session(**data)
    except (OSError, ValueError, TypeError):
        return None


def all_sessions() -> list[Session]:
    """Every session on this workstation, by environment and item."""
    root = sessions_root()
    folders = [f for f in sorted(root.glob("*/*")) if f.is_dir() and not f.name.startswith(".")]
    found = [load(folder) for folder in folders]
    return sorted((s for s in found if s), key=lambda s: (s.environment, s.item, s.attachment))


def sessions_of(environment: str, item: int) -> list[Session]:
    """The sessions of one item."""
    return [s for s in all_sessions() if s.environment == environment and s.item == item]


def pid_alive(pid: int) -> bool:
    """Whether a process runs (POSIX: signal 0; Windows: OpenProcess)."""
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import ctypes

        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)  # type: ignore[attr-defined,unused-ignore]
        if not handle:
            return False
        ctypes.windll.kernel32.CloseHandle(handle)  # type: ignore[attr-defined,unused-ignore]
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
