"""A long-running ``koppel`` command (``watch``, ``agent run``) in the background, as a
user's session runs it: its output in a log file the test reads."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from harness import BIN, Workstation


class KoppelProcess:
    """``koppel ARGS…`` of workstation ``ws``, started and stopped by the test."""

    args: tuple[str, ...] = ()
    stop_wait = 20.0  # seconds a clean stop may take (a file being placed is finished)

    def __init__(self, ws: Workstation, log: Path) -> None:
        self.ws, self.log = ws, log
        self.process: subprocess.Popen[bytes] | None = None
        self._started_at = 0  # where the log of the latest start begins

    def start(self) -> KoppelProcess:
        """Start (again): what ``wait_for`` sees begins here."""
        self._started_at = len(self.text())
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(BIN / "koppel"), *self.args],
                env=self.ws.env,
                cwd=self.ws.home,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return self

    def stop(self) -> None:
        """SIGTERM, which must end it cleanly (exit 0); killed if it does not."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                assert self.process.wait(self.stop_wait) == 0
            finally:
                if self.process.poll() is None:
                    self.process.kill()
        self.process = None

    def text(self) -> str:
        """Everything it logged, over every start."""
        return self.log.read_text() if self.log.exists() else ""

    def wait_for(self, text: str, timeout: float = 20) -> None:
        """Wait until the latest start has logged ``text``; it must keep running."""
        deadline = time.monotonic() + timeout
        while text not in self.text()[self._started_at :]:
            assert self.process is None or self.process.poll() is None, self.text()
            assert time.monotonic() < deadline, f"{text!r} not in:\n{self.text()}"
            time.sleep(0.1)


def desktopless(ws: Workstation) -> Workstation:
    """``ws`` without a desktop session: notifications become log lines tests can read."""
    ws.env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    return ws
