"""The background agent's status: ``status.json`` in the agent's data folder.

Written (atomically) only by ``koppel agent run``; read by ``koppel agent status`` and
the tray. It says per server whether the agent is connected, when it last heard from
it and, in words, what is wrong; how many submissions wait in the queue; and the last
files received. A reader that finds no file, or a damaged one, gets None.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from koppel.agent.local import paths
from koppel.agent.local.atomic import atomic_write_bytes

FORMAT = 1
FILE_NAME = "status.json"
# How many received files the status keeps (the newest first).
RECEIVED_KEPT = 20

ServerState = Literal["connected", "offline", "token_revoked", "update_mismatch"]
SERVER_STATES: tuple[ServerState, ...] = (
    "connected",
    "offline",
    "token_revoked",
    "update_mismatch",
)


def status_file() -> Path:
    """Where the background agent keeps its status."""
    return paths.data_dir() / FILE_NAME


@dataclass
class ServerStatus:
    """One server as the background agent sees it."""

    url: str
    state: ServerState
    detail: str  # the words to show, e.g. "Following 2 environments on one connection."
    last_contact: str | None = None  # ISO 8601 UTC of the last answer from the server
    # Environment code -> "ok" or the problem of that link ("token_revoked", ...).
    environments: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The server's entry in ``status.json``."""
        return {
            "url": self.url,
            "state": self.state,
            "detail": self.detail,
            "last_contact": self.last_contact,
            "environments": dict(self.environments),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ServerStatus:
        """Read an entry; an unknown state reads as offline (a newer agent wrote it)."""
        state = data.get("state")
        return cls(
            url=str(data["url"]),
            state=cast(ServerState, state) if state in SERVER_STATES else "offline",
            detail=str(data.get("detail") or ""),
            last_contact=data.get("last_contact"),
            environments={str(k): str(v) for k, v in (data.get("environments") or {}).items()},
        )


@dataclass
class ReceivedFile:
    """A file the agent placed in My files."""

    path: str
    environment: str
    time: str  # ISO 8601 UTC

    def to_json(self) -> dict[str, Any]:
        """The file's entry in ``status.json``."""
        return {"path": self.path, "environment": self.environment, "time": self.time}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReceivedFile:
        """Read an entry."""
        return cls(str(data["path"]), str(data["environment"]), str(data["time"]))


@dataclass
class AgentStatus:
    """Everything in ``status.json``."""

    pid: int
    updated_at: str  # ISO 8601 UTC
    servers: dict[str, ServerStatus] = field(default_factory=dict)  # by server URL
    pending: int = 0  # submissions waiting in the queue
    failed: int = 0  # submissions the server refused (shown by `koppel queue`)
    received: list[ReceivedFile] = field(default_factory=list)  # newest first
    # False once the agent stopped cleanly; a crashed agent leaves True behind, so
    # `koppel agent status` asks the agent's lock whether it runs.
    running: bool = True

    def to_json(self) -> dict[str, Any]:
        """The content of ``status.json``."""
        return {
            "format": FORMAT,
            "pid": self.pid,
            "updated_at": self.updated_at,
            "servers": {url: s.to_json() for url, s in sorted(self.servers.items())},
            "pending": self.pending,
            "failed": self.failed,
            "received": [r.to_json() for r in self.received[:RECEIVED_KEPT]],
            "running": self.running,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AgentStatus:
        """Read the content of ``status.json``."""
        return cls(
            pid=int(data["pid"]),
            updated_at=str(data["updated_at"]),
            servers={
                str(url): ServerStatus.from_json(entry)
                for url, entry in (data.get("servers") or {}).items()
            },
            pending=int(data.get("pending") or 0),
            failed=int(data.get("failed") or 0),
            received=[ReceivedFile.from_json(r) for r in data.get("received") or []],
            running=bool(data.get("running", True)),
        )


def read(path: Path | None = None) -> AgentStatus | None:
    """The status last written, or None when there is none or it cannot be read."""
    try:
        data = json.loads((path or status_file()).read_bytes())
        return AgentStatus.from_json(data)
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def write(status: AgentStatus, path: Path | None = None) -> None:
    """Replace the status atomically: a reader sees the old one or the new one."""
    data = json.dumps(status.to_json(), indent=1, ensure_ascii=False).encode() + b"\n"
    atomic_write_bytes(path or status_file(), data)
