"""koppel-server sends a whole stored file from a thread (the ASGI Path Send extension,
``adapters/http/path_send.py``), and streams it when it cannot.

A real uvicorn with koppel-server's protocol class on a free loopback port (a thread of
this process, so that the tests can count the sending threads' work), real sockets and
httpx. First a small app that answers with a file, for the protocol's own cases (keep-alive,
HEAD, busy threads, a client that leaves or stalls, a file shorter than announced); then
the real app (``demo_server`` serves it with the same protocol) for an attachment.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from dossier_support import Api, link
from harness import Server, Workstation, free_port
from koppel.protocol.wire import SHA256_HEADER
from koppel.server.adapters.http import path_send
from koppel.server.adapters.http.path_send import PATH_SEND, PathSendProtocol

MB = 1024 * 1024
Sent = list[tuple[str, int]]


class FileApp:
    """Answers ``/NAME`` with the file NAME of ``folder`` through ``http.response.pathsend``
    (announcing ``declared`` bytes when set), and remembers each request's client port."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.declared: int | None = None
        self.clients: list[int] = []
        self.offered: list[bool] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        self.clients.append(scope["client"][1])
        self.offered.append(PATH_SEND in scope.get("extensions", {}))
        path = self.folder / scope["path"].lstrip("/")
        size = self.declared if self.declared is not None else path.stat().st_size
        headers = [(b"content-length", str(size).encode()), (b"content-type", b"application/pdf")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": PATH_SEND, "path": str(path)})


class Served:
    """uvicorn with koppel-server's protocol, serving ``app`` on a free port."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, http=PathSendProtocol, log_level="info",
            lifespan="on", timeout_graceful_shutdown=2,
        )  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Sent:
    """What the sending threads sent: (file name, bytes), as each finished."""
    done: Sent = []
    real = path_send._send_file

    def counting(sock: socket.socket, path: str, count: int) -> None:
        real(sock, path, count)
        done.append((Path(path).name, count))

    monkeypatch.setattr(path_send, "_send_file", counting)
    return done


@pytest.fixture
def files(tmp_path: Path) -> Iterator[tuple[FileApp, Served]]:
    folder = tmp_path / "files"
    folder.mkdir()
    app = FileApp(folder)
    with Served(app) as served:
        yield app, served


def put(app: FileApp, name: str, size: int) -> bytes:
    data = os.urandom(size)
    (app.folder / name).write_bytes(data)
    return data


def _eventually(check: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.02)


def test_a_whole_file_is_sent_by_a_thread_on_a_connection_kept_alive(
    files: tuple[FileApp, Served], sent: Sent
) -> None:
    app, served = files
    big, small = put(app, "scan.pdf", 9 * MB + 123), put(app, "note.pdf", 10)
    empty = put(app, "empty.pdf", 0)
    with httpx.Client(base_url=served.url, timeout=30) as client:
        answers = [client.get(p) for p in ("/scan.pdf", "/note.pdf", "/empty.pdf", "/scan.pdf")]
    assert [a.content for a in answers] == [big, small, empty, big]
    assert all(a.status_code == 200 for a in answers)
    assert "transfer-encoding" not in answers[0].headers
    # One connection for the four (the body's end was where the client expected it).
    assert app.offered == [True] * 4 and len(set(app.clients)) == 1
    # (A thread reports after its last byte left: the client may have it first.)
    _eventually(lambda: len(sent) == 3)
    assert sent == [("scan.pdf", len(big)), ("note.pdf", 10), ("scan.pdf", len(big))]


def test_head_sends_the_headers_only(files: tuple[FileApp, Served], sent: Sent) -> None:
    app, served = files
    put(app, "scan.pdf", 3 * MB)
    with httpx.Client(base_url=served.url, timeout=30) as client:
        head = client.head("/scan.pdf")
        after = client.get("/scan.pdf")  # the connection is still in step
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(3 * MB)
    assert len(after.content) == 3 * MB
    _eventually(lambda: len(sent) == 1)
    assert sent == [("scan.pdf", 3 * MB)]


def test_with_every_thread_busy_the_file_is_streamed(
    files: tuple[FileApp, Served], sent: Sent, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, served = files
    data = put(app, "scan.pdf", 5 * MB + 1)
    monkeypatch.setattr(path_send, "senders", path_send._Senders(0))
    with httpx.Client(base_url=served.url, timeout=30) as client:
        assert client.get("/scan.pdf").content == data
    assert sent == []


def _ask(served: Served, path: str, *, receive_buffer: int | None = None) -> socket.socket:
    sock = socket.socket()
    if receive_buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.connect(("127.0.0.1", served.port))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return sock


def test_a_client_that_leaves_frees_its_thread_and_logs_no_error(
    files: tuple[FileApp, Served], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    app, served = files
    data = put(app, "scan.pdf", 40 * MB)
    one = path_send._Senders(1)
    monkeypatch.setattr(path_send, "senders", one)
    caplog.set_level(logging.INFO)
    sock = _ask(served, "/scan.pdf")
    assert len(sock.recv(MB)) > 0  # the download began
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()  # a reset: the client is gone mid-file
    _eventually(lambda: one.take() and (one.give_back() or True))
    # The one thread is free again: the next download is sent by it, whole.
    with httpx.Client(base_url=served.url, timeout=30) as client:
        assert hashlib.sha256(client.get("/scan.pdf").content).digest() == (
            hashlib.sha256(data).digest()
        )
    assert "download of scan.pdf stopped" in caplog.text
    assert "Exception in ASGI application" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_client_that_stops_reading_is_cut_off(
    files: tuple[FileApp, Served], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    app, served = files
    put(app, "scan.pdf", 40 * MB)
    one = path_send._Senders(1)
    monkeypatch.setattr(path_send, "senders", one)
    monkeypatch.setattr(path_send, "STALL_SECONDS", 0.5)
    caplog.set_level(logging.INFO)
    with _ask(served, "/scan.pdf", receive_buffer=64 * 1024) as sock:
        sock.recv(1024)  # the headers arrived; then nothing more is read
        _eventually(lambda: "download of scan.pdf stopped" in caplog.text)
        # The server closed the connection: what is left in the buffers, then the end.
        sock.settimeout(10)
        received = 0
        while got := len(sock.recv(MB)):
            received += got
        assert received < 20 * MB
    _eventually(one.take)  # its thread was given back


def test_a_file_shorter_than_announced_ends_the_connection(
    files: tuple[FileApp, Served], sent: Sent, caplog: pytest.LogCaptureFixture
) -> None:
    app, served = files
    put(app, "scan.pdf", 2 * MB)
    app.declared = 3 * MB
    caplog.set_level(logging.INFO)
    with (
        httpx.Client(base_url=served.url, timeout=30) as client,
        pytest.raises(httpx.RemoteProtocolError),
    ):
        client.get("/scan.pdf")
    assert sent == []
    warning = [r for r in caplog.records if r.name == "koppel.downloads"]
    assert warning and warning[0].levelno == logging.WARNING
    assert "1048576 bytes missing" in warning[0].getMessage()


def test_an_attachment_is_sent_by_a_thread_and_a_range_is_streamed(
    demo_server: Server, workstation: Any, sent: Sent
) -> None:
    ws: Workstation = workstation()
    api = Api(demo_server, "F10001", link(ws, demo_server, "F10001", "anna"))
    data = os.urandom(6 * MB + 5)
    item = api.item("Scans", "Invoice", {"scan.pdf": data})
    url = f"items/{item['id']}/attachments/{item['attachments'][0]['id']}/content"
    whole = api.get(url)
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers[SHA256_HEADER] == hashlib.sha256(data).hexdigest()
    _eventually(lambda: len(sent) == 1)
    assert [count for _name, count in sent] == [len(data)]
    part = api.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == data[100:200]
    assert len(sent) == 1  # a range is streamed through uvicorn


def test_a_server_that_stops_ends_a_download_in_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    app = FileApp(folder)
    put(app, "scan.pdf", 40 * MB)
    ended = threading.Event()
    real = path_send._send_file

    def watched(sock: socket.socket, path: str, count: int) -> None:
        try:
            real(sock, path, count)
        finally:
            ended.set()

    monkeypatch.setattr(path_send, "_send_file", watched)
    served = Served(app)
    with served, _ask(served, "/scan.pdf", receive_buffer=64 * 1024) as sock:
        sock.recv(1024)  # the download began; the client reads nothing more
        time.sleep(0.3)
        started = time.monotonic()
        served.server.should_exit = True
        # uvicorn waits 2 s (timeout_graceful_shutdown), then cancels the request: the
        # connection ends, and with it the sending thread's writes (not after 60 s).
        assert ended.wait(10)
        assert time.monotonic() - started < 8
        served.thread.join(10)
        assert not served.thread.is_alive()
