"""A large download is read straight from the socket (api/_body.py), still verified.

The real agent code (AgentClient, download_attachment) against a tiny HTTP server on a
socket of this test: only such a server can send a wrong body, cut one short or stall,
which the real server never does on purpose. The happy path against the real server is
covered by test_dossier (``koppel open``) and test_timings (3 MB through ``koppel open``).
"""

from __future__ import annotations

import hashlib
import io
import os
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from koppel.agent.api import AgentClient, _body
from koppel.agent.downloading import download_attachment
from koppel.agent.errors import AgentError, ServerUnreachable

SIZE = 3 * 1024 * 1024 + 17  # several direct reads and a partial last one
Sender = Callable[[socket.socket], None]


@pytest.fixture
def serve() -> Iterator[Callable[[Sender], str]]:
    """Serve one connection with ``sender`` (after reading the request); the URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    threads: list[threading.Thread] = []

    def start(sender: Sender) -> str:
        def run() -> None:
            conn, _ = listener.accept()
            with conn:
                request = b""
                while b"\r\n\r\n" not in request:
                    request += conn.recv(65536)
                sender(conn)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        threads.append(thread)
        return f"http://127.0.0.1:{listener.getsockname()[1]}"

    yield start
    listener.close()
    for thread in threads:
        thread.join(5)


def headers(body_length: int, sha256: str) -> bytes:
    return (
        "HTTP/1.1 200 OK\r\n"
        f"Content-Length: {body_length}\r\n"
        f'Koppel-Sha256: {sha256}\r\nKoppel-Version: 1\r\nETag: "1"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()


def download(url: str, target: Path) -> str:
    with AgentClient(url) as client:
        return download_attachment(client, "C20001", "token", 1, 1, target).sha256


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_large_body_arrives_whole_and_verified(
    serve: Callable[[Sender], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = os.urandom(SIZE)
    digest = hashlib.sha256(body).hexdigest()
    direct: list[int] = []
    real_socket = _body._socket

    def watched(response: object) -> socket.socket | None:
        found = real_socket(response)  # type: ignore[arg-type]
        direct.append(found is not None)
        return found

    monkeypatch.setattr(_body, "_socket", watched)

    def send(conn: socket.socket) -> None:
        conn.sendall(headers(SIZE, digest) + body[:1000])  # part with the headers
        for start in range(1000, SIZE, 100_000):  # the rest in uneven pieces
            conn.sendall(body[start : start + 100_000])

    target = tmp_path / "out" / "scan.pdf"
    assert download(serve(send), target) == digest
    assert target.read_bytes() == body
    assert direct == [True]  # read past httpx
    assert leftovers(target.parent) == ["scan.pdf"]


def test_a_body_cut_short_leaves_nothing(serve: Callable[[Sender], str], tmp_path: Path) -> None:
    body = os.urandom(SIZE)

    def send(conn: socket.socket) -> None:
        conn.sendall(headers(SIZE, hashlib.sha256(body).hexdigest()) + body[: SIZE // 2])
        conn.shutdown(socket.SHUT_WR)

    target = tmp_path / "out" / "scan.pdf"
    with pytest.raises(ServerUnreachable):
        download(serve(send), target)
    assert leftovers(target.parent) == []


def test_a_damaged_body_is_refused_and_leaves_nothing(
    serve: Callable[[Sender], str], tmp_path: Path
) -> None:
    body = os.urandom(SIZE)
    claimed = hashlib.sha256(b"something else").hexdigest()

    def send(conn: socket.socket) -> None:
        conn.sendall(headers(SIZE, claimed) + body)

    target = tmp_path / "out" / "scan.pdf"
    with pytest.raises(AgentError, match="damaged"):
        download(serve(send), target)
    assert leftovers(target.parent) == []


def test_a_failed_write_is_raised_in_the_receiving_thread(tmp_path: Path) -> None:
    # A full disk, faked: the file object refuses the third chunk. The writing thread
    # hands the error to the receiving one, which stops (and atomic_writer cleans up).
    from koppel.agent.local.verified_writer import VerifiedWriter

    class Full(io.BytesIO):
        def write(self, data: object) -> int:
            if self.tell() >= 2 * 1024:
                raise OSError(28, "No space left on device")
            return super().write(data)  # type: ignore[arg-type]

    with pytest.raises(OSError, match="No space"), VerifiedWriter(Full()) as out:  # type: ignore[arg-type]
        for _ in range(1000):
            out.write(b"x" * 1024)


def test_only_a_plain_stream_s_socket_is_read_directly() -> None:
    # Behind an HTTPS proxy, httpcore's TLS-inside-TLS stream names its outer socket,
    # whose bytes are the proxy tunnel's, still encrypted for the server: reading it
    # would damage every large download. No HTTPS proxy runs in these tests, so a
    # stand-in stream of another kind holding a real socket shows the rule.
    import httpx
    from httpcore._backends.sync import SyncStream

    class OtherStream:
        def __init__(self, sock: socket.socket) -> None:
            self.sock = sock

        def get_extra_info(self, info: str) -> object:
            return self.sock if info == "socket" else None

    left, right = socket.socketpair()
    with left, right:
        plain = httpx.Response(200, extensions={"network_stream": SyncStream(left)})
        other = httpx.Response(200, extensions={"network_stream": OtherStream(left)})
        assert _body._socket(plain) is left
        assert _body._socket(other) is None
