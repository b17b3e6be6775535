"""koppel-server sends a whole stored file from a thread (the ASGI Path Send extension,
``adapters/http/path_send.py`` and ``file_sending.py``), and streams it when it cannot.

A real uvicorn with koppel-server's protocol class on a free loopback port (a thread of
this process, so that the tests can count the sending threads' work), real sockets and
httpx. First a small app that answers with a file, for the protocol's own cases (keep-alive,
pipelining, HEAD, busy threads, a client that leaves, reads slowly or stalls, a file
shorter than announced or gone, a server that stops); then the real app (``demo_server``
serves it with the same protocol) for an attachment.
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

import anyio
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
    (announcing ``declared`` bytes when set; removing the file after the headers when
    ``remove`` is set), and remembers each request's client port."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.declared: int | None = None
        self.remove = False
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
        if self.remove:
            path.unlink()
        await send({"type": PATH_SEND, "path": str(path)})


class Served:
    """uvicorn with koppel-server's protocol, serving ``app`` on a free port. Its log goes
    through the root logger (as koppel-server configures it), so ``caplog`` sees it."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, http=PathSendProtocol, log_config=None,
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
    real = path_send.send_file

    def counting(sock: socket.socket, path: str, count: int, stall: float) -> None:
        real(sock, path, count, stall)
        done.append((Path(path).name, count))

    monkeypatch.setattr(path_send, "send_file", counting)
    return done


@pytest.fixture
def threads(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[int], path_send._Senders]]:
    """Give the server ``n`` sending threads (stopped after the test)."""
    made: list[path_send._Senders] = []

    def use(count: int) -> path_send._Senders:
        made.append(path_send._Senders(count))
        monkeypatch.setattr(path_send, "senders", made[-1])
        return made[-1]

    yield use
    for senders in made:
        senders.close()


@pytest.fixture
def files(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> Iterator[tuple[FileApp, Served]]:
    caplog.set_level(logging.INFO)
    folder = tmp_path / "files"
    folder.mkdir()
    app = FileApp(folder)
    with Served(app) as served:
        yield app, served
    # Whatever happened, uvicorn never had to report the app's answer as broken.
    assert "Exception in ASGI application" not in caplog.text
    assert "ASGI callable returned without" not in caplog.text


def put(app: FileApp, name: str, size: int) -> bytes:
    data = os.urandom(size)
    (app.folder / name).write_bytes(data)
    return data


def _eventually(check: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.02)


def _ask(served: Served, *paths: str, receive_buffer: int | None = None) -> socket.socket:
    """A raw connection that asked for ``paths`` (pipelined, in one packet)."""
    sock = socket.socket()
    if receive_buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.connect(("127.0.0.1", served.port))
    sock.sendall(b"".join(f"GET {p} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for p in paths))
    return sock


def _answers(sock: socket.socket, count: int) -> list[bytes]:
    """Read ``count`` answers with Content-Length from ``sock``: their bodies."""
    data, bodies = b"", []
    while len(bodies) < count:
        while b"\r\n\r\n" not in data:
            data += sock.recv(MB) or pytest.fail("the connection ended")
        head, _, data = data.partition(b"\r\n\r\n")
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))  # fmt: skip
        while len(data) < length:
            data += sock.recv(MB) or pytest.fail("the connection ended")
        bodies.append(data[:length])
        data = data[length:]
    return bodies


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


def test_pipelined_requests_get_their_answers_in_turn(
    files: tuple[FileApp, Served], sent: Sent
) -> None:
    app, served = files
    big, small = put(app, "scan.pdf", 6 * MB + 1), put(app, "note.pdf", 5)
    # The second and third requests arrive while the thread sends the first answer.
    with _ask(served, "/scan.pdf", "/note.pdf", "/scan.pdf") as sock:
        assert _answers(sock, 3) == [big, small, big]
    _eventually(lambda: len(sent) == 3)


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
    files: tuple[FileApp, Served], sent: Sent, threads: Callable[[int], Any]
) -> None:
    app, served = files
    data = put(app, "scan.pdf", 5 * MB + 1)
    threads(0)
    with httpx.Client(base_url=served.url, timeout=30) as client:
        assert client.get("/scan.pdf").content == data
    assert sent == []


def test_an_unknown_uvicorn_gets_the_file_streamed(tmp_path: Path) -> None:
    # A send that is not uvicorn's own request cycle (another server, or a uvicorn
    # that wraps it): the file still goes out whole, as plain body messages.
    data = os.urandom(3 * MB + 7)
    (tmp_path / "scan.pdf").write_bytes(data)
    app = FileApp(tmp_path)
    messages: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    scope = {"type": "http", "method": "GET", "path": "/scan.pdf", "client": ("127.0.0.1", 1)}
    anyio.run(path_send._SendingPaths(app), scope, receive, send)
    assert [m["type"] for m in messages][:2] == ["http.response.start", "http.response.body"]
    assert b"".join(m.get("body", b"") for m in messages[1:]) == data
    assert messages[-1]["more_body"] is False


def test_a_client_that_leaves_frees_its_thread_and_logs_no_error(
    files: tuple[FileApp, Served], threads: Callable[[int], Any], caplog: pytest.LogCaptureFixture
) -> None:
    app, served = files
    data = put(app, "scan.pdf", 40 * MB)
    one = threads(1)
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
    stopped = [r for r in caplog.records if r.name == "koppel.downloads"]
    assert [r.levelno for r in stopped] == [logging.INFO]
    assert "download of scan.pdf stopped" in stopped[0].getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_client_that_reads_slowly_gets_the_whole_file(
    files: tuple[FileApp, Served], sent: Sent, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The stall limit restarts whenever the client takes bytes: a client that needs far
    # longer than the limit for one buffer (1 MiB) is not cut off while it reads.
    app, served = files
    data = put(app, "scan.pdf", 3 * MB)
    monkeypatch.setattr(path_send, "STALL_SECONDS", 0.3)
    counting = path_send.send_file

    def large_buffer(sock: socket.socket, path: str, count: int, stall: float) -> None:
        # A send buffer of 2 MiB (the kernel doubles what is asked) for a client reading
        # ~1 MiB a second: once it is full, the socket is writable again only after a
        # third of it drained, well after the limit; only the shrinking queue shows
        # that the client reads. (Without that check this test fails.)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, MB)
        counting(sock, path, count, stall)

    monkeypatch.setattr(path_send, "send_file", large_buffer)
    received = b""
    with _ask(served, "/scan.pdf", receive_buffer=32 * 1024) as sock:
        while b"\r\n\r\n" not in received:
            received += sock.recv(32 * 1024)
        received = received.partition(b"\r\n\r\n")[2]
        while len(received) < len(data):  # ~1 MiB a second: 3 s per MiB is the limit's 10x
            got = sock.recv(32 * 1024)
            assert got, f"cut off after {len(received)} bytes"
            received += got
            time.sleep(0.03)
    assert received == data
    _eventually(lambda: sent == [("scan.pdf", len(data))])


def test_a_client_that_stops_reading_is_cut_off(
    files: tuple[FileApp, Served],
    threads: Callable[[int], Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app, served = files
    put(app, "scan.pdf", 40 * MB)
    one = threads(1)
    monkeypatch.setattr(path_send, "STALL_SECONDS", 0.5)
    with _ask(served, "/scan.pdf", receive_buffer=64 * 1024) as sock:
        sock.recv(1024)  # the headers arrived; then nothing more is read
        _eventually(lambda: "took no bytes for 0.5 s" in caplog.text)
        # The server closed the connection: what is left in the buffers, then the end.
        sock.settimeout(10)
        received = 0
        while got := len(sock.recv(MB)):
            received += got
        assert received < 20 * MB
    _eventually(one.take)  # its thread was given back


@pytest.mark.parametrize("fault", ["shorter", "removed"])
def test_a_file_that_is_not_as_announced_ends_the_connection_with_a_warning(
    files: tuple[FileApp, Served], sent: Sent, caplog: pytest.LogCaptureFixture, fault: str
) -> None:
    app, served = files
    put(app, "scan.pdf", 2 * MB)
    if fault == "shorter":
        app.declared = 3 * MB
    else:
        app.remove = True
    with (
        httpx.Client(base_url=served.url, timeout=30) as client,
        pytest.raises(httpx.RemoteProtocolError),
    ):
        client.get("/scan.pdf")
    assert sent == []
    _eventually(lambda: any(r.name == "koppel.downloads" for r in caplog.records))
    warning = next(r for r in caplog.records if r.name == "koppel.downloads")
    assert warning.levelno == logging.WARNING
    if fault == "shorter":
        assert "1048576 bytes missing" in warning.getMessage()
    else:  # a fault of the server's: with its traceback
        assert warning.exc_info and isinstance(warning.exc_info[1], FileNotFoundError)


def test_a_server_that_stops_ends_a_download_in_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    app = FileApp(folder)
    put(app, "scan.pdf", 40 * MB)
    ended = threading.Event()
    real = path_send.send_file

    def watched(sock: socket.socket, path: str, count: int, stall: float) -> None:
        try:
            real(sock, path, count, stall)
        finally:
            ended.set()

    monkeypatch.setattr(path_send, "send_file", watched)
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
