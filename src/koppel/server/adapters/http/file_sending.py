"""Writing a file to a connection's socket from a thread, blocking, until its last byte
has left or the client stops taking bytes.

A plain ``sendall`` with a timeout would be a speed limit, not a stall limit: since Python
3.5 the timeout covers the whole call, so a client slower than one buffer per timeout is
cut off while it is still reading. Here the limit restarts whenever the client takes
bytes: when the socket accepts more, and, while it waits for room, when the bytes the
kernel still holds for the client go down (Linux's ``SIOCOUTQ``; elsewhere only accepted
bytes count).
"""

from __future__ import annotations

import select
import socket
import struct
import sys
import time

BUFFER_BYTES = 1024 * 1024
# How long one wait for room in the socket lasts before progress is checked again.
_CHECK_MS = 1000

if sys.platform.startswith("linux"):
    import termios

    # On a socket, the bytes its send queue still holds (SIOCOUTQ).
    _OUTQ: int | None = termios.TIOCOUTQ
else:
    _OUTQ = None


class ShortFile(OSError):
    """The file ended before the length announced in the response's headers."""


class Stalled(TimeoutError):
    """The client took no bytes for the stall limit."""


def send_file(sock: socket.socket, path: str, count: int, stall_seconds: float) -> None:
    """Write ``count`` bytes of the file at ``path`` to ``sock``, read into one reused
    buffer. Raises Stalled when the client takes nothing for ``stall_seconds``, ShortFile
    when the file is shorter, OSError when the client goes away. ``sock`` stays open."""
    watch = _Progress(sock, stall_seconds)
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLOUT)
    sock.settimeout(0.0)  # non-blocking, as the event loop's socket already is
    buffer = memoryview(bytearray(min(BUFFER_BYTES, max(count, 1))))
    with open(path, "rb", buffering=0) as file:
        while count:
            read = file.readinto(buffer[: min(len(buffer), count)])
            if not read:
                raise ShortFile(f"{count} bytes missing at the end of {path}")
            view = buffer[:read]
            while view:
                try:
                    sent = sock.send(view)
                except BlockingIOError:
                    poller.poll(_CHECK_MS)  # room, an error or a hang-up wake it
                    watch.check()
                    continue
                view = view[sent:]
                watch.moved()
            count -= read


class _Progress:
    """When the client last took bytes, and whether that is too long ago."""

    def __init__(self, sock: socket.socket, stall_seconds: float) -> None:
        self._sock = sock
        self._stall = stall_seconds
        self._deadline = time.monotonic() + stall_seconds
        self._queued = _queued(sock)

    def moved(self) -> None:
        """The socket took bytes."""
        self._deadline = time.monotonic() + self._stall
        self._queued = _queued(self._sock)

    def check(self) -> None:
        """After a wait for room: progress when the queue went down; Stalled when nothing
        moved for the stall limit."""
        queued = _queued(self._sock)
        if queued is not None and self._queued is not None and queued < self._queued:
            self._deadline = time.monotonic() + self._stall
        self._queued = queued
        if time.monotonic() > self._deadline:
            raise Stalled(f"the client took no bytes for {self._stall:g} s")


def _queued(sock: socket.socket) -> int | None:
    """The bytes the kernel still holds for the client, where it says (Linux)."""
    if _OUTQ is None:
        return None
    import fcntl

    try:
        answer = fcntl.ioctl(sock.fileno(), _OUTQ, b"\0\0\0\0")
    except OSError:
        return None
    return int(struct.unpack("i", answer)[0])
