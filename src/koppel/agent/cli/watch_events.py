"""``koppel watch --json``: each event as one JSON object on a line of stdout (JSON Lines).

The keys and the ``event`` names are English and the same in every language; a script
follows them with ``jq`` or reads them line by line. Each line is written and flushed at
once, from the watcher's threads, whole (one write under a lock).
"""

from __future__ import annotations

import json
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from koppel.agent.watching import Observer

_lock = threading.Lock()


def emit(event: str, **fields: Any) -> None:
    """One JSON line on stdout: ``event``, the time (UTC, ISO 8601) and ``fields``."""
    record = {"event": event, "time": datetime.now(UTC).isoformat(timespec="seconds"), **fields}
    line = json.dumps(record, ensure_ascii=False) + "\n"
    with _lock:
        sys.stdout.write(line)
        sys.stdout.flush()


def log_to_stderr(message: str) -> None:
    """The watcher's human log line, on stderr (stdout carries only JSON)."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with _lock:
        sys.stderr.write(f"{stamp} {message}\n")
        sys.stderr.flush()


class JsonLines(Observer):
    """What the watcher sees, as JSON lines."""

    def connected(self, server: str, environments: list[str]) -> None:
        emit("connected", server=server, environments=environments)

    def lost(self, server: str, reason: str, *, final: bool) -> None:
        emit("connection_lost", server=server, reason=reason, final=final)

    def dropped(self, server: str, environment: str, state: str, message: str) -> None:
        emit(
            "environment_dropped",
            server=server,
            environment=environment,
            state=state,
            message=message,
        )

    def received(self, environment: str, path: Path) -> None:
        emit("file_received", environment=environment, name=path.name, path=str(path))
