"""The tus 1.0 upload endpoint over real HTTP: the official tuspy client, protocol
conformance (OPTIONS/POST/HEAD/PATCH/DELETE, offsets, checksums, expiry, termination),
the size limit, a connection broken off mid-body (the app served on a port by a thread of
this process), and the server's memory during a 75 MB upload (a ``koppel-server``
process: its memory is the point)."""

from __future__ import annotations

import base64
import hashlib
import os
import threading
import time
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
import pytest
import sqlalchemy

from app_client import UPDATE, InProcess, bearer
from harness import DEMO_PASSWORD, Server, make_server
from uploads_helpers import auth, random_file, sha256_of, tus, upload_rows

LIMIT = 75 * 1024 * 1024
OFFSET_STREAM = "application/offset+octet-stream"


def uploads_url(server: Server, env: str = "F10001") -> str:
    return f"{server.url}/api/v1/environments/{env}/uploads"


def meta(**pairs: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in pairs.items())


def create(server: Server, token: str, length: int, name: str = "a.zip") -> httpx.Response:
    return httpx.post(
        uploads_url(server),
        headers=tus(
            token, **{"Upload-Length": str(length), "Upload-Metadata": meta(filename=name)}
        ),
    )


def patch(url: str, token: str, offset: int, body: bytes, **extra: str) -> httpx.Response:
    headers = tus(token, **{"Upload-Offset": str(offset), "Content-Type": OFFSET_STREAM})
    headers.update(extra)
    return httpx.patch(url, headers=headers, content=body)


def head(url: str, token: str) -> httpx.Response:
    return httpx.head(url, headers=tus(token))


def digest(algorithm: str, data: bytes) -> str:
    return f"{algorithm} {base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}"


def link(server: Server, workstation: str, env: str = "F10001", login: str = "anna") -> str:
    """Link ``env`` as the agent does over the API (the settings file with the password,
    then the link); the bearer token."""
    settings = httpx.get(
        f"{server.url}/api/v1/environments/{env}/settings",
        auth=(login, DEMO_PASSWORD),
        headers=UPDATE,
    )
    assert settings.status_code == 200, settings.text
    linked = httpx.post(
        f"{server.url}/api/v1/links",
        headers=UPDATE,
        json={
            "workstation": {"id": f"{workstation}-0001", "name": workstation},
            "settings": [settings.json()],
        },
    )
    assert linked.status_code == 200, linked.text
    return str(linked.json()["links"][0]["token"])


@pytest.fixture
def linked(demo_server: Server) -> tuple[Server, str]:
    """The demo practice served on a port and anna's token for F10001."""
    return demo_server, link(demo_server, "laptop")


@pytest.fixture
def linked_process(demo_server_process: Server) -> tuple[Server, str]:
    """A ``koppel-server`` process with the demo practice and anna's token for F10001."""
    return demo_server_process, link(demo_server_process, "laptop")


@pytest.fixture
def short_expiry(tmp_path: Path) -> Iterator[tuple[Server, str]]:
    """A demo server whose uploads expire after about a second."""
    srv = make_server(tmp_path, process=False)
    srv.env["KOPPEL_UPLOAD_EXPIRY_HOURS"] = str(1.0 / 3600)
    srv.start("--demo")
    try:
        yield srv, link(srv, "laptop")
    finally:
        srv.stop()


def create_item(server: Server, token: str, uploads: list[str], sid: str) -> httpx.Response:
    body = {
        "submission_id": sid,
        "subject": "From tuspy",
        "type": "Invoice",
        "destination": "D0001",
        "uploads": uploads,
    }
    return httpx.post(
        f"{server.url}/api/v1/environments/F10001/items", json=body, headers=auth(token)
    )


def content_sha256(server: Server, token: str, item: dict[str, object], index: int = 0) -> str:
    attachment = item["attachments"][index]  # type: ignore[index]
    url = (
        f"{server.url}/api/v1/environments/{item['environment']}/items/{item['id']}"
        f"/attachments/{attachment['id']}/content"
    )
    found = hashlib.sha256()
    with httpx.stream("GET", url, headers=auth(token), timeout=60) as response:
        assert response.status_code == 200
        for piece in response.iter_bytes():
            found.update(piece)
    return found.hexdigest()


def test_tuspy_uploads_and_the_upload_becomes_an_item(
    linked: tuple[Server, str], tmp_path: Path
) -> None:
    from tusclient import client as tus_client

    server, token = linked
    source = random_file(tmp_path / "statement.pdf", 2_500_000)
    uploader = tus_client.TusClient(uploads_url(server), headers=auth(token)).uploader(
        file_path=str(source),
        chunk_size=1_000_000,
        metadata={"filename": "statement.pdf", "filetype": "application/pdf"},
        upload_checksum=True,  # tuspy sends sha1 Upload-Checksum headers
    )
    uploader.upload()
    upload_id = uploader.url.rsplit("/", 1)[-1]
    (row,) = upload_rows(server)
    assert row["id"] == upload_id and row["offset"] == row["declared_length"] == 2_500_000
    assert row["sha256"] == sha256_of(source) and row["completed_at"] is not None

    created = create_item(server, token, [upload_id], "tuspy-submission-1")
    assert created.status_code == 201, created.text
    item = created.json()
    attachment = item["attachments"][0]
    assert attachment["name"] == "statement.pdf"
    assert attachment["current"]["media_type"] == "application/pdf"
    assert content_sha256(server, token, item) == sha256_of(source)

    # Claimed once: the same upload cannot become a second item.
    again = create_item(server, token, [upload_id], "tuspy-submission-2")
    assert again.status_code == 404 and again.json()["code"] == "not_found"


def test_options_and_creation_headers(linked: tuple[Server, str]) -> None:
    server, token = linked
    options = httpx.options(uploads_url(server))
    assert options.status_code == 204
    assert options.headers["Tus-Resumable"] == "1.0.0"
    assert options.headers["Tus-Version"] == "1.0.0"
    assert set(options.headers["Tus-Extension"].split(",")) >= {
        "creation",
        "checksum",
        "termination",
        "expiration",
    }
    assert int(options.headers["Tus-Max-Size"]) == LIMIT
    assert set(options.headers["Tus-Checksum-Algorithm"].split(",")) == {"sha1", "sha256"}

    created = create(server, token, 11, "hello.txt")
    assert created.status_code == 201
    assert created.headers["Tus-Resumable"] == "1.0.0"
    location = created.headers["Location"]
    assert location.startswith(uploads_url(server) + "/")
    expires = parsedate_to_datetime(created.headers["Upload-Expires"])
    assert 23 * 3600 < expires.timestamp() - time.time() <= 24 * 3600 + 5

    found = head(location, token)
    assert found.status_code == 200
    assert found.headers["Upload-Offset"] == "0"
    assert found.headers["Upload-Length"] == "11"
    assert found.headers["Cache-Control"] == "no-store"
    assert found.headers["Tus-Resumable"] == "1.0.0"

    # Another protocol version (or none) is refused with the version the server speaks.
    for headers in ({**auth(token), "Tus-Resumable": "0.2.2"}, auth(token)):
        refused = httpx.head(location, headers=headers)
        assert refused.status_code == 412 and refused.headers["Tus-Version"] == "1.0.0"
    # Without a token nothing is revealed.
    anonymous = httpx.head(location, headers={"Tus-Resumable": "1.0.0", "Koppel-Update": "2026.2"})
    assert anonymous.status_code == 401 and anonymous.headers["Tus-Resumable"] == "1.0.0"


def test_patch_offsets_checksums_and_completion(linked: tuple[Server, str]) -> None:
    server, token = linked
    url = create(server, token, 11, "hello.txt").headers["Location"]

    wrong_type = httpx.patch(
        url,
        headers=tus(token, **{"Upload-Offset": "0", "Content-Type": "text/plain"}),
        content=b"hello",
    )
    assert wrong_type.status_code == 415

    first = patch(url, token, 0, b"hello", **{"Upload-Checksum": digest("sha256", b"hello")})
    assert first.status_code == 204, first.text
    assert first.headers["Upload-Offset"] == "5" and "Upload-Expires" in first.headers

    stale = patch(url, token, 0, b"hello")
    assert stale.status_code == 409 and stale.json()["code"] == "offset_mismatch"
    assert stale.headers["Tus-Resumable"] == "1.0.0"

    damaged = patch(url, token, 5, b" world", **{"Upload-Checksum": digest("sha1", b"other")})
    assert damaged.status_code == 460 and damaged.json()["code"] == "checksum_mismatch"
    assert head(url, token).headers["Upload-Offset"] == "5"  # the chunk was discarded

    unknown_algorithm = patch(url, token, 5, b" world", **{"Upload-Checksum": "md5 AAAA"})
    assert unknown_algorithm.status_code == 400

    last = patch(url, token, 5, b" world", **{"Upload-Checksum": digest("sha1", b" world")})
    assert last.status_code == 204 and last.headers["Upload-Offset"] == "11"
    (row,) = upload_rows(server)
    assert row["sha256"] == hashlib.sha256(b"hello world").hexdigest()
    assert row["completed_at"] is not None
    # The completed blob is committed; no partial is left behind.
    assert not any(p.is_file() for p in (server.data_dir / "blobs" / "partial").rglob("*"))
    done = patch(url, token, 11, b"x")
    assert done.status_code in (409, 413)


def test_bytes_beyond_the_declared_length_are_refused(linked: tuple[Server, str]) -> None:
    server, token = linked
    url = create(server, token, 10).headers["Location"]
    # Declared by Content-Length: refused before reading the body.
    too_long = patch(url, token, 0, b"x" * 20)
    assert too_long.status_code == 413 and too_long.json()["code"] == "too_large"
    # Streamed without a length (chunked): refused once the body goes beyond.
    streamed = httpx.patch(
        url,
        headers=tus(token, **{"Upload-Offset": "0", "Content-Type": OFFSET_STREAM}),
        content=iter([b"x" * 8, b"y" * 12]),
    )
    assert streamed.status_code == 413 and streamed.json()["code"] == "too_large"
    assert head(url, token).headers["Upload-Offset"] == "0"
    assert upload_rows(server)[0]["completed_at"] is None


def test_the_size_limit_is_checked_on_the_declared_length(linked: tuple[Server, str]) -> None:
    server, token = linked
    refused = create(server, token, LIMIT + 1)
    assert refused.status_code == 413
    assert refused.json()["code"] == "too_large"
    assert "at most 75.0 MB (78,643,200 bytes)" in refused.json()["message"]
    assert refused.headers["Tus-Resumable"] == "1.0.0"
    assert upload_rows(server) == []
    assert create(server, token, LIMIT).status_code == 201


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("CON", "unsafe_name"),
        ("nul.txt", "unsafe_name"),
        ("LPT9.pdf", "unsafe_name"),
        ("a:b.pdf", "unsafe_name"),
        ("what?.pdf", "unsafe_name"),
        ("tab\there.pdf", "unsafe_name"),
        ("../escape.pdf", "unsafe_name"),
        ("trailing.", "unsafe_name"),
        ("trailing ", "unsafe_name"),
        ("é" * 128 + ".pdf", "unsafe_name"),  # 260 bytes of UTF-8
    ],
)
def test_unsafe_names_are_refused(linked: tuple[Server, str], name: str, code: str) -> None:
    server, token = linked
    refused = create(server, token, 10, name)
    assert refused.status_code == 400 and refused.json()["code"] == code
    assert upload_rows(server) == []


SPOOFING_NAMES = ["\u202etxt.exe", "a\x85b.pdf", "zero\u200bwidth.pdf", "COM¹.txt", "CONIN$.txt"]


def test_spoofing_names_are_refused_in_process(demo_app: InProcess) -> None:
    """The one shared rule refuses format and control characters and every device name
    Windows reserves; nothing is created for them."""
    client = demo_app.client()
    token = demo_app.token("F10001", "anna")
    url = "/api/v1/environments/F10001/uploads"
    for name in SPOOFING_NAMES:
        headers = {
            **bearer(token),
            "Tus-Resumable": "1.0.0",
            "Upload-Length": "10",
            "Upload-Metadata": meta(filename=name),
        }
        refused = client.post(url, headers=headers)
        assert refused.status_code == 400, (name, refused.text)
        assert refused.json()["code"] == "unsafe_name", name
        assert refused.json()["message"].isprintable()
    with demo_app.svc.database.engine.connect() as connection:
        assert connection.execute(sqlalchemy.text("SELECT count(*) FROM uploads")).scalar() == 0
    headers["Upload-Metadata"] = meta(filename="plain.txt")
    assert client.post(url, headers=headers).status_code == 201


def test_empty_and_nameless_uploads_are_refused(linked: tuple[Server, str]) -> None:
    server, token = linked
    empty = create(server, token, 0, "empty.txt")
    assert empty.status_code == 400 and empty.json()["code"] == "empty_file"
    nameless = httpx.post(uploads_url(server), headers=tus(token, **{"Upload-Length": "5"}))
    assert nameless.status_code == 400 and nameless.json()["code"] == "validation_error"
    assert upload_rows(server) == []
    assert create(server, token, 5, "ok é name (1).pdf").status_code == 201


def test_termination_and_other_users(linked: tuple[Server, str]) -> None:
    server, token = linked
    url = create(server, token, 10).headers["Location"]
    assert patch(url, token, 0, b"12345").status_code == 204
    partials = server.data_dir / "blobs" / "partial"
    assert any(p.is_file() for p in partials.rglob("*"))

    bram = link(server, "bram-pc", login="bram")
    for response in (head(url, bram), httpx.delete(url, headers=tus(bram))):
        assert response.status_code == 404  # bram cannot see or delete anna's upload
    assert head(url, token).headers["Upload-Offset"] == "5"

    deleted = httpx.delete(url, headers=tus(token))
    assert deleted.status_code == 204 and deleted.headers["Tus-Resumable"] == "1.0.0"
    assert head(url, token).status_code == 404
    assert patch(url, token, 5, b"67890").status_code == 404
    assert upload_rows(server) == []
    assert not any(p.is_file() for p in partials.rglob("*"))


def test_expired_uploads_are_refused_and_swept(short_expiry: tuple[Server, str]) -> None:
    server, token = short_expiry
    touched = create(server, token, 10).headers["Location"]
    assert patch(touched, token, 0, b"12345").status_code == 204
    untouched = create(server, token, 10).headers["Location"]
    time.sleep(1.5)

    gone = head(touched, token)
    assert gone.status_code == 410
    late = patch(touched, token, 5, b"67890")
    assert late.status_code in (404, 410)
    # Creating an upload sweeps the other expired ones cheaply.
    fresh = create(server, token, 10)
    assert fresh.status_code == 201
    ids = {row["id"] for row in upload_rows(server)}
    assert ids == {fresh.headers["Location"].rsplit("/", 1)[-1]}
    assert untouched.rsplit("/", 1)[-1] not in ids
    assert not any(p.is_file() for p in (server.data_dir / "blobs" / "partial").rglob("*"))


def _rss_kb(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field}")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_a_75_mb_upload_is_streamed_not_held_in_memory(
    linked_process: tuple[Server, str],
) -> None:
    server, token = linked_process
    assert server.process is not None
    pid = server.process.pid
    url = create(server, token, LIMIT, "big.zip").headers["Location"]
    before = _rss_kb(pid)
    peak = [before]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _rss_kb(pid))
            time.sleep(0.02)

    block = os.urandom(1 << 20)
    expected = hashlib.sha256()

    def body() -> Iterator[bytes]:
        for _ in range(LIMIT // len(block)):
            expected.update(block)
            yield block

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        # One PATCH of the whole 75 MB, with a Content-Length: the worst case for memory.
        response = httpx.patch(
            url,
            headers=tus(
                token,
                **{
                    "Upload-Offset": "0",
                    "Content-Type": OFFSET_STREAM,
                    "Content-Length": str(LIMIT),
                },
            ),
            content=body(),
            timeout=120,
        )
    finally:
        stop.set()
        sampler.join()
    assert response.status_code == 204, response.text
    assert response.headers["Upload-Offset"] == str(LIMIT)
    grown_mb = (peak[0] - before) / 1024
    print(f"server RSS grew by {grown_mb:.1f} MB during the 75 MB upload")
    assert grown_mb < 64, f"the server grew by {grown_mb:.0f} MB"
    (row,) = upload_rows(server)
    assert row["sha256"] == expected.hexdigest()


def test_a_patch_broken_off_mid_body_keeps_an_in_order_prefix(linked: tuple[Server, str]) -> None:
    # The server stores a piece while it receives the next; a connection that breaks
    # meanwhile must leave only whole, in-order bytes, which the client continues from.
    import socket
    from urllib.parse import urlsplit

    server, token = linked
    data = os.urandom(24 * 1024 * 1024)
    url = create(server, token, len(data), "broken.zip").headers["Location"]
    parts = urlsplit(url)
    sent = 13 * 1024 * 1024
    request = (
        f"PATCH {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Authorization: Bearer {token}\r\nKoppel-Update: 2026.2\r\nTus-Resumable: 1.0.0\r\n"
        f"Upload-Offset: 0\r\nContent-Type: {OFFSET_STREAM}\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    ).encode()
    with socket.create_connection((parts.hostname, parts.port)) as raw:
        raw.sendall(request)
        raw.sendall(data[:sent])
        time.sleep(0.3)  # let the server be mid-way through storing
    deadline = time.monotonic() + 15
    while True:
        offset = int(head(url, token).headers["Upload-Offset"])
        answer = patch(url, token, offset, data[offset:])
        if answer.status_code == 204 or time.monotonic() > deadline:
            break
        assert answer.json()["code"] == "offset_mismatch", answer.text  # still recording
        time.sleep(0.2)
    assert answer.status_code == 204, answer.text
    assert 0 < offset <= sent
    (row,) = upload_rows(server)
    assert row["sha256"] == hashlib.sha256(data).hexdigest()
