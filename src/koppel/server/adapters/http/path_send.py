"""koppel-server's HTTP protocol: uvicorn's, plus the ASGI Path Send extension, whose
files are sent by a few threads with blocking writes to the socket.

Streamed through uvicorn, a download of 75 MB costs the server about 50 ms of CPU and
reaches the agent later (``bench/download.py``): every chunk is read into a new bytes
object, handed to the event loop, and what the socket does not take at once is copied
into the transport's buffer (twice on Python 3.11). Here one thread reads the file into a
buffer it reuses and writes it to the socket, blocking, while the event loop leaves the
connection alone: about 30 ms of CPU, and the bytes are still in the CPU's cache when the
receiving side copies them. (``sendfile`` costs the server even less, but on this path the
receiver then copies the bytes cold from memory and the download takes longer.)

An app asks for it, after its ``http.response.start``, with
``{"type": "http.response.pathsend", "path": ...}`` when the scope lists the extension
(ASGI's Path Send; ``downloads.BlobResponse``); the path's file must be as long as the
Content-Length sent. On a connection this server encrypts itself (uvicorn's own TLS), on
a system without POSIX sockets, when every sending thread is busy, or with a uvicorn that
does not look like the one this was written for, the file is streamed through uvicorn.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

PATH_SEND = "http.response.pathsend"
# Downloads sent by threads at once; more are streamed through the event loop. A slow
# client holds its thread for as long as it takes to receive the file.
SENDERS = 8
_BUFFER_BYTES = 1024 * 1024
# A client that takes no bytes for this long is cut off, as uvicorn does not do itself.
STALL_SECONDS = 60.0

log = logging.getLogger("koppel.downloads")


class PathSendProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol that also answers ``http.response.pathsend``."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.app = _SendingPaths(self.app)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        extensions: dict[str, Any] = dict(self.scope.get("extensions") or {})
        extensions[PATH_SEND] = {}
        self.scope["extensions"] = extensions


class _SendingPaths:
    """The app, with its ``http.response.pathsend`` messages carried out here."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # uvicorn hands its own cycle's bound send to the outermost app.
        cycle = getattr(send, "__self__", None)
        if scope["type"] != "http" or not isinstance(cycle, RequestResponseCycle):
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == PATH_SEND:
                await _send_path(cycle, send, str(message["path"]))
            else:
                await send(message)

        await self.app(scope, receive, sending)


class _Senders:
    """The threads that send files, started when first needed."""

    def __init__(self, count: int) -> None:
        self._free = threading.BoundedSemaphore(count)
        self._count = count
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Whether a thread is free (it is then reserved until :meth:`give_back`)."""
        return self._free.acquire(blocking=False)

    def give_back(self) -> None:
        self._free.release()

    def pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._count, thread_name_prefix="koppel-send")
            return self._pool


senders = _Senders(SENDERS)


class ShortFile(OSError):
    """The file ended before the length announced in the response's headers."""


async def _send_path(cycle: RequestResponseCycle, send: Send, path: str) -> None:
    if cycle.scope["method"] == "HEAD" or (
        not cycle.chunked_encoding and not cycle.expected_content_length
    ):
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    if cycle.chunked_encoding:  # no Content-Length: uvicorn frames the chunks
        await _stream(send, path, os.path.getsize(path))
        return
    count = cycle.expected_content_length
    fd = _plain_socket_fd(cycle.transport)
    if fd is None or not senders.take():
        await _stream(send, path, count)
        return
    try:
        if not await _flushed(cycle):
            return  # the client went away before the headers left
        transport = cycle.transport
        reading = transport.is_reading()
        transport.pause_reading()  # the socket is the sending thread's until it is done
        # The thread's own descriptor of the connection, made here: whatever the event
        # loop then does with its own, the thread cannot write to another connection.
        own = socket.socket(fileno=os.dup(fd))
        try:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(senders.pool(), _send_file, own, path, count)
        except OSError as exc:  # the client went away or stalled, or the file is short
            level = logging.WARNING if isinstance(exc, ShortFile) else logging.INFO
            log.log(level, "download of %s stopped: %s", os.path.basename(path), exc)
            transport.abort()
            await asyncio.sleep(0)  # uvicorn learns the connection is gone: no error
            return
        except asyncio.CancelledError:
            # The server is stopping: end the connection, which ends the thread's sends
            # at once (its descriptor alone would keep the connection open).
            own.shutdown(socket.SHUT_RDWR)
            transport.abort()
            raise
        finally:
            if reading and not transport.is_closing():
                transport.resume_reading()
    finally:
        senders.give_back()
    cycle.expected_content_length = 0  # the thread sent the whole body
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def _plain_socket_fd(transport: asyncio.Transport) -> int | None:
    """The file descriptor of the connection's socket, when bytes written to it reach the
    client as they are (no TLS here) and it can be duplicated (POSIX)."""
    if os.name != "posix" or transport.get_extra_info("sslcontext") is not None:
        return None
    sock = transport.get_extra_info("socket")
    fileno = getattr(sock, "fileno", None)
    return fileno() if callable(fileno) else None


async def _flushed(cycle: RequestResponseCycle) -> bool:
    """Wait until uvicorn's buffer (the headers, usually gone at once) is on the socket;
    False when the client went away or stalled."""
    deadline = time.monotonic() + STALL_SECONDS
    while cycle.transport.get_write_buffer_size():
        if cycle.disconnected or time.monotonic() > deadline:
            cycle.transport.abort()
            return False
        await asyncio.sleep(0.005)
    return not cycle.disconnected


def _send_file(sock: socket.socket, path: str, count: int) -> None:
    """Write ``count`` bytes of the file at ``path`` to ``sock`` (blocking, in a sending
    thread), then close ``sock``; OSError when the client goes away or stalls, ShortFile
    when the file is shorter."""
    with sock, open(path, "rb", buffering=0) as file:
        # A timeout makes sendall wait with poll() on the (non-blocking) socket.
        sock.settimeout(STALL_SECONDS)
        with memoryview(bytearray(min(_BUFFER_BYTES, max(count, 1)))) as buffer:
            while count:
                read = file.readinto(buffer[: min(len(buffer), count)])
                if not read:
                    raise ShortFile(f"{count} bytes missing at the end of {path}")
                sock.sendall(buffer[:read])
                count -= read


async def _stream(send: Send, path: str, count: int) -> None:
    """Send the file through uvicorn, chunk by chunk (read in a worker thread)."""
    loop = asyncio.get_running_loop()
    with open(path, "rb") as file:
        while True:
            chunk = await loop.run_in_executor(None, file.read, min(_BUFFER_BYTES, count))
            if count and not chunk:
                raise ShortFile(f"{count} bytes missing at the end of {path}")
            count -= len(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": count > 0})
            if not count:
                return
