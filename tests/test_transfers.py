"""Several files of a submission in flight at once (``--transfers``): the real ``koppel``
agent against a real server. The item keeps the submitted order whatever file finishes
first; a refusal stops the batch; an interruption leaves a queue that resumes without
sending a finished file twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness import BIN, Server, Workstation
from test_submit import attachment_sha256, items_of, queue_files, submit
from uploads_helpers import link, random_file, sha256_of, submit_in_background, upload_rows

Ws = Callable[..., Workstation]
FILE_REFUSED, USAGE = 10, 2


@pytest.fixture
def anna(demo_server: Server, workstation: Ws) -> tuple[Server, Workstation, str]:
    ws = workstation("laptop")
    return demo_server, ws, link(ws, demo_server)


def _scans(folder: Path, count: int, first_size: int = 20 * 1024) -> list[Path]:
    folder.mkdir(exist_ok=True)
    # The first file is the largest: it finishes after files submitted behind it.
    return [
        random_file(folder / f"scan-{i:03}.pdf", first_size if i == 0 else 1024 + 97 * i)
        for i in range(count)
    ]


def test_200_files_arrive_complete_and_in_the_submitted_order(
    anna: tuple[Server, Workstation, str], tmp_path: Path
) -> None:
    server, ws, token = anna
    sources = _scans(tmp_path / "scans", 200, first_size=3 * 1024 * 1024)
    result = submit(ws, *map(str, sources))
    assert result.returncode == 0, result.output
    (item,) = items_of(server, token)
    assert [a["name"] for a in item["attachments"]] == [p.name for p in sources]
    for index in (0, 1, 100, 199):
        assert attachment_sha256(server, token, item, index) == sha256_of(sources[index])
    assert len(upload_rows(server)) == 200  # each file uploaded once
    assert queue_files(ws) == []
    # Not on a terminal: no bar, only the outcome.
    assert "files" not in result.stderr and "\x1b[" not in result.stderr


def test_one_at_a_time_and_the_limits(
    anna: tuple[Server, Workstation, str], tmp_path: Path
) -> None:
    server, ws, token = anna
    sources = _scans(tmp_path / "scans", 12)
    result = submit(ws, *map(str, sources), "--transfers", "1")
    assert result.returncode == 0, result.output
    (item,) = items_of(server, token)
    assert [a["name"] for a in item["attachments"]] == [p.name for p in sources]
    for wrong in ("0", "17"):
        refused = submit(ws, str(sources[0]), "--transfers", wrong)
        assert refused.returncode == USAGE
        assert "choose 1 to 16" in refused.stderr, refused.stderr
    assert "--transfers" in ws.ok("queue", "send", "--help").stdout


def test_one_overall_bar_when_asked_for(
    anna: tuple[Server, Workstation, str], tmp_path: Path
) -> None:
    _server, ws, _token = anna
    sources = _scans(tmp_path / "scans", 30)
    ws.env["KOPPEL_PROGRESS"] = "always"
    result = submit(ws, *map(str, sources))
    assert result.returncode == 0, result.output
    # One bar for the submission, not one per file.
    assert "30 of 30 files" in result.stderr, result.stderr
    assert "scan-001.pdf" not in result.stderr


def _write_queue(ws: Workstation, files: list[dict[str, Any]]) -> str:
    """A submission in the queue as an agent writes it (e.g. queued while offline)."""
    ident = uuid.uuid4().hex
    folder = ws.home / ".local/share/koppel/queue"
    folder.mkdir(parents=True, exist_ok=True)
    submission = {
        "format": 1,
        "id": ident,
        "environment": "F10001",
        "destination": "D0001",
        "type": "Invoice",
        "subject": "Receipts",
        "files": files,
        "date": None,
        "created": "2026-12-01T09:00:00+00:00",
        "state": "pending",
        "error": None,
        "item_requested": False,
    }
    (folder / f"{ident}.json").write_text(json.dumps(submission))
    return ident


def test_a_refused_file_stops_the_batch_and_no_item_is_made(
    anna: tuple[Server, Workstation, str], tmp_path: Path
) -> None:
    # The server refuses a name Windows reserves (CON.pdf) when its upload is created: a
    # queue written by an agent that did not check names, refused mid-batch.
    server, ws, token = anna
    sources = _scans(tmp_path / "scans", 100)
    files = [{"path": str(p), "name": p.name, "size": p.stat().st_size} for p in sources]
    files[10]["name"] = "CON.pdf"
    ident = _write_queue(ws, files)
    result = ws.koppel("queue", "send", "--json")
    assert result.returncode == FILE_REFUSED, result.output
    (sent,) = result.json()
    assert sent["state"] == "failed" and "reserves" in sent["message"], sent
    assert items_of(server, token) == []
    # The other workers stopped: most files were never sent.
    assert len(upload_rows(server)) < 40
    (queued,) = ws.ok("queue", "--json").json()
    assert queued["id"] == ident and queued["state"] == "failed"
    assert "reserves" in queued["error"]["message"]


def test_ctrl_c_leaves_a_queue_that_resumes_sending_each_file_once(
    anna: tuple[Server, Workstation, str], tmp_path: Path
) -> None:
    server, ws, token = anna
    sources = _scans(tmp_path / "scans", 150)
    # Interrupted early: the other files (fast, small) must not all be sent before the
    # signal lands on a busy machine.
    process = submit_in_background(server, ws, sources, until_uploads=5)
    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert items_of(server, token) == []
    (queued,) = ws.ok("queue", "--json").json()
    assert queued["state"] == "pending"
    done = [f for f in queued["files"] if f["state"] == "uploaded"]
    assert done and all(f["upload_id"] for f in done)
    # How far it got and how to go on, in one line.
    assert (
        f"Interrupted: {len(done)} of 150 files are on the server and the submission is "
        "queued; `koppel queue send` sends the rest." in " ".join(err.split())
    ), err
    # Every upload the server made is in the queue file: none is made again.
    before = {row["id"] for row in upload_rows(server)}
    recorded = {
        (f["upload_id"] or (f["upload_url"] or "").rsplit("/", 1)[-1]) for f in queued["files"]
    }
    assert before <= recorded

    sent = ws.koppel("queue", "send", "--json", "--transfers", "3")
    assert sent.returncode == 0, sent.output
    (item,) = items_of(server, token)
    assert [a["name"] for a in item["attachments"]] == [p.name for p in sources]
    assert attachment_sha256(server, token, item, 149) == sha256_of(sources[149])
    assert len(upload_rows(server)) == len(sources)
    assert queue_files(ws) == []


def test_a_killed_agent_leaves_a_queue_that_resumes(
    anna: tuple[Server, Workstation, str], tmp_path: Path
) -> None:
    # kill -9: the last second's files may be sent again (checkpoints come once a
    # second), but each arrives in the item once and a file recorded uploaded is not resent.
    server, ws, token = anna
    sources = _scans(tmp_path / "scans", 150)
    process = subprocess.Popen(
        [str(BIN / "koppel"), "submit", *map(str, sources), "--to", "D0001", "--type", "Invoice"],
        env={**ws.env, "KOPPEL_NO_UPDATE_CHECK": "1"},
        cwd=ws.home,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not any(f["state"] == "uploaded" for q in queue_files(ws) for f in q["files"]):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    (queued,) = queue_files(ws)
    recorded = {f["upload_id"] for f in queued["files"] if f["state"] == "uploaded"}
    sent = ws.koppel("queue", "send", "--json")
    assert sent.returncode == 0, sent.output
    (item,) = items_of(server, token)
    assert [a["name"] for a in item["attachments"]] == [p.name for p in sources]
    claimed = {row["id"] for row in upload_rows(server) if row["claimed_at"]}
    assert recorded <= claimed  # the uploads recorded before the kill were used as they were
