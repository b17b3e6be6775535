"""Run a real command at a terminal (a pseudo-terminal): for prompts, which the CLIs only
show when a person is there to answer them, and for what Ctrl+C or Ctrl+D does to them."""

from __future__ import annotations

import os
import pty
import select
import signal
import time
from dataclasses import dataclass
from pathlib import Path

CTRL_C = b"\x03"  # the terminal turns it into SIGINT for the command
CTRL_D = b"\x04"  # end of input, at the start of a line


@dataclass
class TerminalRun:
    """What the terminal showed (stdout and stderr together, as a person sees them)."""

    screen: str
    returncode: int


def _read_until(fd: int, wanted: str, seen: bytearray, deadline: float) -> None:
    while wanted.encode() not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the command ended and the terminal closed
            return
        if not chunk:
            return
        seen.extend(chunk)


def at_terminal(
    args: list[str], env: dict[str, str], cwd: Path, *, prompt: str, keys: bytes
) -> TerminalRun:
    """Start ``args`` on a new terminal, wait for ``prompt``, type ``keys``, and wait for
    the command to end (killed after 60 s)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: becomes the command, its terminal is the pty
        try:
            os.chdir(cwd)
            os.execve(args[0], args, env)
        finally:
            os._exit(127)
    seen = bytearray()
    deadline = time.monotonic() + 60
    try:
        _read_until(fd, prompt, seen, deadline)
        assert prompt.encode() in seen, f"no prompt {prompt!r}; the terminal showed: {seen!r}"
        # A key typed the instant the prompt shows can land before the command reads: a
        # Ctrl+C then sets Python's flag while the read that would notice it has not begun
        # (CPython's input() waits for the next key). As a person would, type it again
        # when nothing happens.
        for _ in range(3):
            os.write(fd, keys)
            pause = min(time.monotonic() + 3, deadline)
            _read_until(fd, "\0never\0", seen, pause)  # everything, until the end
            if time.monotonic() < pause:
                break  # the terminal closed: the command ended
        _read_until(fd, "\0never\0", seen, deadline)
    finally:
        done, status = os.waitpid(pid, os.WNOHANG)
        while done == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
            done, status = os.waitpid(pid, os.WNOHANG)
        if done == 0:
            os.kill(pid, signal.SIGKILL)
            done, status = os.waitpid(pid, 0)
        os.close(fd)
    return TerminalRun(seen.decode("utf-8", "replace"), os.waitstatus_to_exitcode(status))
