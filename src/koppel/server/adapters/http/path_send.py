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
a system without POSIX sockets, when every sending thread is busy, or with a uvicorn whose
request cycle does not look like the one this was written for, the file is streamed
through uvicorn. The writing itself is :mod:`file_sending`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

from koppel.server.adapters.http.file_sending import BUFFER_BYTES, ShortFile, send_file

PATH_SEND = "http.response.pathsend"
# Downloads sent by threads at once; more are streamed through the event loop. A slow
# client holds its thread for as long as it takes to receive the file.
SENDERS = 8
# A client that takes no bytes for this long is cut off (uvicorn has no such limit).
STALL_SECONDS = 60.0
# What a client does to a download, not a fault of the server's: logged at INFO.
_CLIENT_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)

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
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # uvicorn hands its own cycle's bound send to the outermost app.
        cycle = getattr(send, "__self__", None)
        length: list[int] = []  # the Content-Length of the answer, when it has one

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                length[:] = [int(v) for k, v in message.get("headers", ())
                             if k.lower() == b"content-length"][:1]  # fmt: skip
            if message["type"] != PATH_SEND:
                await send(message)
            elif isinstance(cycle, RequestResponseCycle):
                await _send_path(cycle, send, str(message["path"]))
            else:  # a uvicorn unlike the one this was written for
                path = str(message["path"])
                count = length[0] if length else os.path.getsize(path)
                await _stream(send, path, 0 if scope["method"] == "HEAD" else count)

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

    def close(self) -> None:
        """Stop the threads once their sends are done."""
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False)
                self._pool = None


senders = _Senders(SENDERS)


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
    if fd is None:
        await _stream(send, path, count)
        return
    if not await _flushed(cycle):
        await _abandon(cycle)  # the client went away or stalled before the headers left
        return
    if not senders.take():
        await _stream(send, path, count)
        return
    try:
        try:
            # The thread's own socket object on the connection, made here. Only its
            # future's callback closes it, once the thread is done with it, and a closed
            # object refuses to act: nothing reaches a descriptor number reused by
            # another connection.
            own = socket.socket(fileno=os.dup(fd))
        except OSError as exc:  # out of descriptors: the event loop sends it
            log.warning("download of %s streamed: %s", os.path.basename(path), exc)
            await _stream(send, path, count)
            return
        if await _send_from_thread(cycle, own, path, count):
            cycle.expected_content_length = 0  # the thread sent the whole body
            await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        senders.give_back()


async def _send_from_thread(
    cycle: RequestResponseCycle, own: socket.socket, path: str, count: int
) -> bool:
    """Have a sending thread write the body to ``own`` (closed when it is done); False
    when the connection had to end."""
    transport = cycle.transport
    reading = transport.is_reading()
    transport.pause_reading()  # the socket is the thread's until it is done
    sending = senders.pool().submit(send_file, own, path, count, STALL_SECONDS)
    sending.add_done_callback(lambda _: own.close())
    try:
        await asyncio.wrap_future(sending)
        return True
    except OSError as exc:
        if isinstance(exc, _CLIENT_GONE):
            log.info("download of %s stopped: %s", os.path.basename(path), exc)
        elif isinstance(exc, ShortFile):
            log.warning("download of %s stopped: %s", os.path.basename(path), exc)
        else:
            log.warning("download of %s stopped", os.path.basename(path), exc_info=exc)
        await _abandon(cycle)
        return False
    except asyncio.CancelledError:
        # The server is stopping: end the connection, and with it the thread's sends at
        # once (its own descriptor would keep the connection open).
        transport.abort()
        with contextlib.suppress(OSError):  # the thread is done and it is closed already
            own.shutdown(socket.SHUT_RDWR)
        raise
    finally:
        if reading and not transport.is_closing():
            transport.resume_reading()


async def _abandon(cycle: RequestResponseCycle) -> None:
    """End the connection mid-answer, as a client that left would: no error logged."""
    cycle.transport.abort()
    await asyncio.sleep(0)  # uvicorn's connection_lost runs and marks it disconnected


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
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STALL_SECONDS
    waits = 0
    while cycle.transport.get_write_buffer_size():
        if cycle.disconnected or loop.time() > deadline:
            return False
        # A few turns of the loop first: an event loop that writes at the end of its
        # turn (uvloop) has sent the headers by then.
        await asyncio.sleep(0 if waits < 3 else 0.005)
        waits += 1
    return not cycle.disconnected


async def _stream(send: Send, path: str, count: int) -> None:
    """Send ``count`` bytes of the file through uvicorn, chunk by chunk (read in a worker
    thread)."""
    loop = asyncio.get_running_loop()
    with open(path, "rb") as file:
        while True:
            chunk = await loop.run_in_executor(None, file.read, min(BUFFER_BYTES, count))
            if count and not chunk:
                raise ShortFile(f"{count} bytes missing at the end of {path}")
            count -= len(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": count > 0})
            if not count:
                return
