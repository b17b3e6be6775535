"""``koppel submit`` and ``koppel queue`` end to end: the real agent against a real server,
including an agent killed mid-upload, a server restarted mid-upload, retries that must not
create a second item, and the offline queue."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from backends import both_backends
from harness import BIN, Server, Workstation
from msg_support import msg_file
from uploads_helpers import (
    auth,
    link,
    random_file,
    sha256_of,
    submit_in_background,
    tus,
    upload_rows,
)

Ws = Callable[..., Workstation]
FILE_REFUSED, QUEUED, USAGE = 10, 11, 2


def items_of(server: Server, token: str, env: str = "F10001") -> list[dict[str, Any]]:
    response = httpx.get(
        f"{server.url}/api/v1/environments/{env}/items", headers=auth(token), params={"limit": 200}
    )
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["items"]
    return found


def attachment_sha256(server: Server, token: str, item: dict[str, Any], index: int = 0) -> str:
    import hashlib

    attachment = item["attachments"][index]
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


def queue_files(ws: Workstation) -> list[dict[str, Any]]:
    folder = ws.home / ".local/share/koppel/queue"
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def submit(ws: Workstation, *args: str) -> Any:
    return ws.koppel("submit", *args, "--to", "D0001", "--type", "Invoice", "--json")


@pytest.fixture
def anna(demo_server: Server, workstation: Ws) -> tuple[Server, Workstation, str]:
    ws = workstation("laptop")
    return demo_server, ws, link(ws, demo_server)


@pytest.fixture
def anna_on_a_process(
    demo_server_process: Server, workstation: Ws
) -> tuple[Server, Workstation, str]:
    """``anna`` with a ``koppel-server`` process, for the test that restarts it."""
    ws = workstation("laptop")
    return demo_server_process, ws, link(ws, demo_server_process)


@both_backends
def test_submit_one_file(anna: tuple[Server, Workstation, str], tmp_path: Path) -> None:
    server, ws, token = anna
    source = random_file(tmp_path / "invoice 2026-001.pdf", 300_000)
    result = submit(ws, str(source), "--subject", "March invoice")
    assert result.returncode == 0, result.output
    data = result.json()
    assert data["state"] == "sent" and data["item"]["subject"] == "March invoice"
    (item,) = items_of(server, token)
    assert item["submission_id"] == data["submission"]
    assert item["type"] == "Invoice" and item["destination"]["code"] == "D0001"
    assert item["attachments"][0]["name"] == "invoice 2026-001.pdf"
    assert attachment_sha256(server, token, item) == sha256_of(source)
    assert queue_files(ws) == []
    assert ws.ok("queue", "--json").json() == []


def test_submit_many_files_and_an_email(
    anna: tuple[Server, Workstation, str], tmp_path: Path
) -> None:
    server, ws, token = anna
    mail = tmp_path / "question.eml"
    mail.write_bytes(
        b"From: Jan de Wit <jan@example.com>\r\nTo: anna@example.com\r\n"
        b"Subject: Vraag over de jaarrekening\r\n"
        b"Date: Tue, 03 Nov 2026 09:15:00 +0100\r\n\r\nGoedemorgen,\r\n"
    )
    extra = [random_file(tmp_path / f"bijlage-{n}.xlsx", 50_000 + n) for n in range(3)]
    result = submit(ws, str(mail), *map(str, extra))
    assert result.returncode == 0, result.output
    (item,) = items_of(server, token)
    assert item["subject"] == "Vraag over de jaarrekening"
    assert item["date"].startswith("2026-11-03T08:15:00")
    names = [a["name"] for a in item["attachments"]]
    assert names == ["question.eml", "bijlage-0.xlsx", "bijlage-1.xlsx", "bijlage-2.xlsx"]
    for index, path in enumerate([mail, *extra]):
        assert attachment_sha256(server, token, item, index) == sha256_of(path)
    # --subject wins over the message's own subject.
    again = submit(ws, str(mail), "--subject", "Given")
    assert again.returncode == 0 and again.json()["item"]["subject"] == "Given"


def test_environment_choice_without_a_terminal(
    anna: tuple[Server, Workstation, str], tmp_path: Path
) -> None:
    server, ws, _token = anna
    ws.ok("link", str(ws.save_settings(server, "C20001", "anna")))
    source = random_file(tmp_path / "a.pdf", 1000)
    refused = submit(ws, str(source))
    assert refused.returncode == USAGE, refused.output
    assert "C20001" in refused.stderr and "F10001" in refused.stderr and "--env" in refused.stderr
    assert upload_rows(server) == [] and queue_files(ws) == []
    chosen = submit(ws, str(source), "--env", "C20001")
    assert chosen.returncode == 0, chosen.output
    assert chosen.json()["environment"] == "C20001"


def test_files_are_refused_before_any_byte(
    anna: tuple[Server, Workstation, str], tmp_path: Path
) -> None:
    server, ws, _token = anna
    good = random_file(tmp_path / "good.pdf", 1000)
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    big = tmp_path / "scan.tif"
    with big.open("wb") as out:  # sparse: 75 MB + 1 byte without writing them
        out.truncate(75 * 1024 * 1024 + 1)
    cases = [
        (empty, "empty_file", "empty"),
        (tmp_path / "missing.pdf", "unreadable", "missing.pdf"),
        (tmp_path, "unreadable", "not a file"),
        (big, "too_large", "at most 75.0 MB (78,643,200 bytes) per file"),
    ]
    spoofing = ("\u202etxt.exe", "a\x85b.pdf", "zero\u200bwidth.pdf", "COM¹.txt", "CONIN$.txt")
    for name in ("CON.pdf", "trailing.", "a|b.pdf", *spoofing):
        bad = tmp_path / name
        bad.write_bytes(b"x")
        cases.append((bad, "unsafe_name", "cannot be used"))
    for path, code, words in cases:
        result = submit(ws, str(good), str(path))
        assert result.returncode == FILE_REFUSED, (path, result.output)
        assert result.json()["error"]["code"] == code
        assert words in result.stderr
    # A refusal changes nothing: no upload on the server, nothing queued.
    assert upload_rows(server) == [] and queue_files(ws) == []


def test_the_servers_own_limit_is_used(tmp_path: Path, workstation: Ws) -> None:
    from harness import make_server

    server = make_server(tmp_path)
    server.env["KOPPEL_MAX_UPLOAD_MB"] = "1"
    server.start("--demo")
    try:
        ws = workstation("laptop")
        link(ws, server)
        result = submit(ws, str(random_file(tmp_path / "two.pdf", 2 * 1024 * 1024)))
        assert result.returncode == FILE_REFUSED, result.output
        assert "at most 1.00 MB (1,048,576 bytes)" in result.stderr
        assert upload_rows(server) == []
    finally:
        server.stop()


def _start_submit(ws: Workstation, source: Path, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(BIN / "koppel"), "submit", str(source), "--to", "D0001", "--type", "Invoice"],
        env={**ws.env, **env},
        cwd=ws.home,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_progress(
    ws: Workstation, token: str, minimum: int, process: subprocess.Popen[str]
) -> str:
    """Wait until the queued upload has at least ``minimum`` bytes on the server."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        files = queue_files(ws)
        url = files[0]["files"][0]["upload_url"] if files else None
        if url:
            offset = httpx.head(url, headers=tus(token)).headers.get("Upload-Offset")
            if offset and int(offset) >= minimum:
                return str(url)
        time.sleep(0.05)
    raise AssertionError("the upload did not progress")


SLOW = {"KOPPEL_UPLOAD_CHUNK_BYTES": str(64 * 1024)}


def test_an_agent_killed_mid_upload_resumes_the_same_upload(
    anna: tuple[Server, Workstation, str], tmp_path: Path
) -> None:
    server, ws, token = anna
    source = random_file(tmp_path / "archive.zip", 40 * 1024 * 1024)
    process = _start_submit(ws, source, **SLOW)
    url = _wait_for_progress(ws, token, 2 * 1024 * 1024, process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    offset = int(httpx.head(url, headers=tus(token)).headers["Upload-Offset"])
    assert 0 < offset < source.stat().st_size
    assert items_of(server, token) == []
    (queued,) = ws.ok("queue", "--json").json()
    assert queued["state"] == "pending" and queued["files"][0]["upload_url"] == url

    sent = ws.koppel("queue", "send", "--json")
    assert sent.returncode == 0, sent.output
    assert [r["state"] for r in sent.json()] == ["sent"]
    (item,) = items_of(server, token)
    assert attachment_sha256(server, token, item) == sha256_of(source)
    # The very same upload was continued: no second upload was made for the file.
    assert [row["id"] for row in upload_rows(server)] == [url.rsplit("/", 1)[-1]]
    assert queue_files(ws) == []


def test_an_agent_killed_among_many_small_files_sends_each_once(
    anna: tuple[Server, Workstation, str], tmp_path: Path
) -> None:
    # Small files are checkpointed at most once a second, not after each one: a kill may
    # lose the last checkpoint's worth, which is sent again, and the item still gets each
    # file exactly once.
    server, ws, token = anna
    folder = tmp_path / "scans"
    folder.mkdir()
    sources = [random_file(folder / f"scan-{i:03}.pdf", 20 * 1024) for i in range(120)]
    process = submit_in_background(server, ws, sources, until_uploads=30)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert items_of(server, token) == []
    (queued,) = queue_files(ws)
    assert queued["item_requested"] is False

    sent = ws.koppel("queue", "send", "--json")
    assert sent.returncode == 0, sent.output
    (item,) = items_of(server, token)
    names = [a["name"] for a in item["attachments"]]
    assert names == [p.name for p in sources]
    for index in (0, 29, 119):
        assert attachment_sha256(server, token, item, index) == sha256_of(sources[index])
    assert queue_files(ws) == []


def test_a_server_restarted_mid_upload(
    anna_on_a_process: tuple[Server, Workstation, str], tmp_path: Path
) -> None:
    server, ws, token = anna_on_a_process
    source = random_file(tmp_path / "archive.zip", 40 * 1024 * 1024)
    process = _start_submit(ws, source, **SLOW)
    _wait_for_progress(ws, token, 2 * 1024 * 1024, process)
    server.stop()
    time.sleep(1.0)
    server.start()
    _stdout, stderr = process.communicate(timeout=180)
    assert process.returncode == 0, stderr
    (item,) = items_of(server, token)
    assert attachment_sha256(server, token, item) == sha256_of(source)
    assert len(upload_rows(server)) == 1
    assert queue_files(ws) == []


def test_retrying_after_the_item_request_creates_no_second_item(
    anna: tuple[Server, Workstation, str], tmp_path: Path
) -> None:
    server, ws, token = anna
    source = random_file(tmp_path / "a.pdf", 5000)
    # The agent dies right after the server answered the item request (the fault is set by
    # tests/crashing_agent.py), before it could forget the submission: it will send it again.
    crashing = Path(__file__).with_name("crashing_agent.py")
    done = subprocess.run(
        [
            sys.executable,
            str(crashing),
            "submit",
            str(source),
            "--to",
            "D0001",
            "--type",
            "Invoice",
        ],
        env=ws.env,
        cwd=ws.home,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 137, done.stderr
    (queued,) = queue_files(ws)
    assert queued["item_requested"] is True
    assert len(items_of(server, token)) == 1

    resent = ws.koppel("queue", "send", "--json")
    assert resent.returncode == 0, resent.output
    (result,) = resent.json()
    assert result["state"] == "sent" and "already existed" in result["message"]
    (item,) = items_of(server, token)
    assert item["submission_id"] == queued["id"]
    assert queue_files(ws) == []


def test_offline_queue_then_send(anna: tuple[Server, Workstation, str], tmp_path: Path) -> None:
    server, ws, token = anna
    first = random_file(tmp_path / "first.pdf", 20_000)
    second = random_file(tmp_path / "second.pdf", 30_000)
    cancelled = random_file(tmp_path / "cancelled.pdf", 1_000)
    server.stop()

    queued = submit(ws, str(first))
    assert queued.returncode == QUEUED, queued.output
    assert queued.json()["state"] == "queued" and "queue send" in queued.stderr
    dropped = submit(ws, str(cancelled))
    assert dropped.returncode == QUEUED
    listed = ws.ok("queue", "--json").json()
    assert [s["state"] for s in listed] == ["pending", "pending"]
    assert "first.pdf" in ws.ok("queue").stdout + ws.ok("queue").stderr

    still_down = ws.koppel("queue", "send", "--json")
    assert still_down.returncode == QUEUED
    cancel = ws.koppel("queue", "cancel", dropped.json()["submission"][:8])
    assert cancel.returncode == 0, cancel.output
    assert len(ws.ok("queue", "--json").json()) == 1

    server.start()
    # `koppel submit` sends the older queued submission first, then its own.
    both = submit(ws, str(second))
    assert both.returncode == 0, both.output
    data = both.json()
    assert [e["state"] for e in data["earlier"]] == ["sent"]
    items = items_of(server, token)
    assert sorted(i["attachments"][0]["name"] for i in items) == ["first.pdf", "second.pdf"]
    assert ws.koppel("queue", "send", "--json").json() == []
    assert queue_files(ws) == []


def test_offline_queue_with_queue_send(
    anna: tuple[Server, Workstation, str], tmp_path: Path
) -> None:
    server, ws, token = anna
    source = random_file(tmp_path / "offline.pdf", 10_000)
    server.stop()
    assert submit(ws, str(source)).returncode == QUEUED
    server.start()
    sent = ws.koppel("queue", "send", "--json")
    assert sent.returncode == 0, sent.output
    (item,) = items_of(server, token)
    assert attachment_sha256(server, token, item) == sha256_of(source)
    again = ws.koppel("queue", "send", "--json")
    assert again.json() == [] and len(items_of(server, token)) == 1


def test_cancel_terminates_uploads_on_the_server(
    anna: tuple[Server, Workstation, str], tmp_path: Path
) -> None:
    server, ws, token = anna
    source = random_file(tmp_path / "archive.zip", 40 * 1024 * 1024)
    process = _start_submit(ws, source, **SLOW)
    _wait_for_progress(ws, token, 1024 * 1024, process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert len(upload_rows(server)) == 1
    (queued,) = ws.ok("queue", "--json").json()
    result = ws.koppel("queue", "cancel", queued["id"], "--json")
    assert result.returncode == 0, result.output
    assert result.json()["server_told"] is True
    assert upload_rows(server) == [] and queue_files(ws) == []
    assert not any(p.is_file() for p in (server.data_dir / "blobs" / "partial").rglob("*")), (
        os.listdir(server.data_dir / "blobs" / "partial")
    )


@pytest.mark.postgres
def test_submit_and_resume_on_postgresql(tmp_path: Path, workstation: Ws) -> None:
    import uuid

    import postgres
    from harness import make_server

    if not postgres.available():
        pytest.fail("PostgreSQL 15 binaries (initdb, pg_ctl) are not on the PATH")
    cluster = postgres.start_cluster()
    server = make_server(
        tmp_path, database_url=cluster.create_database(f"koppel_{uuid.uuid4().hex[:8]}")
    )
    try:
        server.start("--demo")
        ws = workstation("laptop")
        token = link(ws, server)
        source = random_file(tmp_path / "archive.zip", 8 * 1024 * 1024)
        process = _start_submit(ws, source, **SLOW)
        _wait_for_progress(ws, token, 1024 * 1024, process)
        process.send_signal(signal.SIGKILL)
        process.wait()
        sent = ws.koppel("queue", "send", "--json")
        assert sent.returncode == 0, sent.output
        (item,) = items_of(server, token)
        assert attachment_sha256(server, token, item) == sha256_of(source)
    finally:
        server.stop()
        cluster.stop()


def test_environment_choice_on_a_terminal(
    anna: tuple[Server, Workstation, str], tmp_path: Path
) -> None:
    import pty
    import threading

    server, ws, _token = anna
    ws.ok("link", str(ws.save_settings(server, "C20001", "anna")))
    source = random_file(tmp_path / "chosen.pdf", 2000)
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [str(BIN / "koppel"), "submit", str(source), "--to", "D0001", "--type", "Invoice"],
        env=ws.env,
        cwd=ws.home,
        stdin=slave,
        stderr=slave,
        stdout=subprocess.PIPE,
        text=True,
    )
    os.close(slave)
    seen = bytearray()

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:
                return
            if not data:
                return
            seen.extend(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    deadline = time.monotonic() + 30
    while b"Environment" not in seen and time.monotonic() < deadline:
        time.sleep(0.05)
    assert b"1. C20001" in seen and b"2. F10001" in seen, bytes(seen)
    os.write(master, b"1\n")
    process.wait(timeout=60)
    os.close(master)
    assert process.returncode == 0, bytes(seen)
    (item,) = items_of(server, link_token(ws, "C20001"), "C20001")
    assert item["attachments"][0]["name"] == "chosen.pdf"


def link_token(ws: Workstation, env: str) -> str:
    from uploads_helpers import tokens_of

    return tokens_of(ws)[env]


def test_an_outlook_msg_keeps_its_subject_and_date(
    anna: tuple[Server, Workstation, str], tmp_path: Path
) -> None:
    """A .msg dragged from Outlook: its subject and sent time, read with olefile, become
    the item's (the file is built by tests/msg_support.py, as olefile cannot write)."""
    server, ws, token = anna
    mail = tmp_path / "Vraag over de btw.msg"
    sent = datetime(2026, 11, 3, 8, 15, 30, tzinfo=UTC)
    mail.write_bytes(msg_file("Vraag over de btw-aangifte Q3 €", sent, sent + timedelta(minutes=1)))
    result = submit(ws, str(mail))
    assert result.returncode == 0, result.output
    (item,) = items_of(server, token)
    assert item["subject"] == "Vraag over de btw-aangifte Q3 €"
    assert item["date"].startswith("2026-11-03T08:15:30")
    assert attachment_sha256(server, token, item) == sha256_of(mail)
