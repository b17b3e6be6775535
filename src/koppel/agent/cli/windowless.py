"""The agent started without a console: ``koppelw.exe`` (or ``pythonw.exe``) on Windows,
which links and "Send to Koppel" run so that no console window opens. Such a process
has ``sys.stdout`` and ``sys.stderr`` set to ``None``, and the first message would raise.
Its output goes to ``koppelw.log`` in the agent's data folder instead, where a helpdesk
can read what a click did."""

from __future__ import annotations

import os
import sys
from datetime import datetime
from typing import TextIO

LOG_NAME = "koppelw.log"
# Started afresh above this size: the log is for the last few clicks, not an archive.
LOG_LIMIT = 1_000_000


def _open_log() -> TextIO:
    from koppel.agent.local.paths import ensure_data_dir

    try:
        path = ensure_data_dir() / LOG_NAME
        if path.exists() and path.stat().st_size > LOG_LIMIT:
            path.unlink()
        # Open for the life of the process: it is sys.stdout and sys.stderr from now on.
        return open(path, "a", encoding="utf-8", buffering=1)
    except OSError:
        return open(os.devnull, "w", encoding="utf-8")


def give_streams_when_windowless() -> None:
    """Give a windowless process somewhere to write; a no-op with a console."""
    if sys.stdout is not None and sys.stderr is not None:
        return
    log = _open_log()
    log.write(
        f"--- {datetime.now().astimezone():%Y-%m-%d %H:%M:%S%z} koppel {' '.join(sys.argv[1:])}\n"
    )
    if sys.stdout is None:
        sys.stdout = log
    if sys.stderr is None:
        sys.stderr = log
