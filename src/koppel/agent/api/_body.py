"""Receiving a large response body straight from the socket.

Through httpx, every byte of a body is copied four times in Python after the socket read
(into h11's buffer, out of it twice, into ``bytes``): for a 75 MB download that is most
of the receiving thread's time, while the SHA-256 thread waits for it. A body with a
known length and no content encoding is therefore read from the socket by this module
:data:`READ_BYTES` at most at a time, each chunk handed on as it is (the kernel's copy
only).

httpx first gives what it received with the headers (the first chunk of its own
iterator, which empties h11's buffer), then the socket is read directly. The connection
is not reused afterwards: httpcore closes a connection whose response it did not read to
the end. Whatever goes wrong on the socket is raised as httpx's own error, so callers map
it as before; the content's SHA-256, checked by every download, is the proof that nothing
was lost. Anything else (no length, a compressed body, no socket to read: a proxy tunnel
inside TLS) falls back to httpx's iterator.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import Any, Protocol

import httpx

from koppel.i18n import gettext as _

READ_BYTES = 256 * 1024
# Below this the copies cost less than what is set up here.
_DIRECT_FROM = 4 * READ_BYTES


def body_chunks(response: httpx.Response) -> Iterator[bytes]:
    """The body of a streamed ``response`` as it arrives, in chunks of any size."""
    length = _direct_length(response)
    sock = _socket(response)
    if length is None or sock is None:
        yield from response.iter_bytes()
        return
    raw = response.iter_raw()
    first = next(raw, b"")  # what httpx holds already
    remaining = length - len(first)
    if first:
        yield first
    if remaining <= 0:
        yield from raw  # nothing left to read directly: let httpx finish the response
        return
    while remaining > 0:
        # recv, not recv_into a new buffer: a bytearray is zeroed first, which costs as
        # much as the read itself. recv returns what has arrived, up to the size.
        with _as_httpx_errors():
            chunk = sock.recv(min(READ_BYTES, remaining))
        remaining -= _received(len(chunk))
        yield chunk


@contextlib.contextmanager
def _as_httpx_errors() -> Iterator[None]:
    # A socket read's failures as httpx's own, which the agent's retries understand.
    try:
        yield
    except TimeoutError as exc:
        raise httpx.ReadTimeout(str(exc) or "timed out") from exc
    except OSError as exc:
        raise httpx.ReadError(str(exc) or type(exc).__name__) from exc


def _received(count: int) -> int:
    """``count``, when the socket gave bytes; a read of none means the server hung up."""
    if not count:
        raise httpx.RemoteProtocolError(
            _("The server closed the connection before the whole body was sent.")
        )
    return count


class BodyReader(Protocol):
    """What :func:`body_reader` returns."""

    def readinto(self, buffer: memoryview) -> int:
        """Fill ``buffer`` from the body with what has arrived (at least one byte, waiting
        for it); the number of bytes, 0 at the end of the body."""


def body_reader(response: httpx.Response) -> BodyReader:
    """The body of a streamed ``response``, received straight into the caller's buffers:
    ``recv_into`` on the socket when the body may be read directly (no copy but the
    kernel's), else httpx's chunks copied in. A reader that neither allocates nor copies
    lets the caller hash each buffer while it is still in the CPU's cache and hand it to
    a writer that needs aligned memory (O_DIRECT)."""
    length = _direct_length(response)
    sock = _socket(response)
    if length is None or sock is None:
        return _ChunkReader(response.iter_bytes())
    raw = response.iter_raw()
    first = next(raw, b"")  # what httpx holds already
    if length - len(first) <= 0:
        return _ChunkReader(iter([first, *raw]))  # nothing left to read directly
    return _SocketReader(sock, raw, first, length - len(first))


class _ChunkReader:
    """Chunks of bytes, copied into the caller's buffers."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._left = memoryview(b"")

    def readinto(self, buffer: memoryview) -> int:
        while not self._left:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._left = memoryview(chunk)
        count = min(len(buffer), len(self._left))
        buffer[:count] = self._left[:count]
        self._left = self._left[count:]
        return count


class _SocketReader(_ChunkReader):
    """What httpx received with the headers, then the socket itself."""

    def __init__(
        self, sock: socket.socket, raw: Iterator[bytes], first: bytes, remaining: int
    ) -> None:
        super().__init__(iter([first]))
        self._sock = sock
        # httpx's iterator stays referenced: closing it would close the connection.
        self._raw = raw
        self._remaining = remaining

    def readinto(self, buffer: memoryview) -> int:
        copied = super().readinto(buffer)
        if copied or not self._remaining:
            return copied
        with _as_httpx_errors():
            count = self._sock.recv_into(buffer, min(len(buffer), self._remaining))
        self._remaining -= _received(count)
        return count


def _direct_length(response: httpx.Response) -> int | None:
    """The body's length when it may be read directly, else None."""
    if response.headers.get("content-encoding", "identity").lower() != "identity":
        return None
    if "chunked" in response.headers.get("transfer-encoding", "").lower():
        return None
    try:
        length = int(response.headers.get("content-length", ""))
    except ValueError:
        return None
    direct = response.status_code in (200, 206) and response.http_version == "HTTP/1.1"
    return length if direct and length >= _DIRECT_FROM else None


def _socket(response: httpx.Response) -> socket.socket | None:
    """The connection's socket (plain or TLS), or None when there is none to read.

    Only httpcore's plain stream hands out the socket the body arrives on: a TLS
    connection inside an HTTPS proxy's TLS (``TLSinTLSStream``) names its outer socket,
    whose bytes are still encrypted for the server."""
    from httpcore._backends.sync import SyncStream

    stream: Any = response.extensions.get("network_stream")
    if type(stream) is not SyncStream:
        return None
    try:
        sock = stream.get_extra_info("socket")
    except Exception:  # an unknown kind of stream: keep to httpx
        return None
    return sock if isinstance(sock, socket.socket) else None
