"""Many small files, one request each (issue 13): against a server that offers tus
creation-with-upload, ``koppel submit`` sends every small file with its creation request
(one tus request per file, one capability probe per command); a file worth resuming
keeps create + PATCH; against a server without the extension, create + PATCH as before.
The requests are counted where the real server receives them (``LiveServer``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from koppel.agent import upload_batch
from koppel.agent.api import _tus
from koppel.agent.cli import app
from koppel.server.adapters.api import tus_routes

from .live_server import LiveServer

UPLOADS = "/api/v1/environments/C20001/uploads"
OFFSET_STREAM = "application/offset+octet-stream"


def koppel(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def _link(tmp_path: Path, server: LiveServer) -> None:
    settings = tmp_path / "C20001.koppel"
    settings.write_text(json.dumps(server.settings("C20001")))
    linked = koppel("link", str(settings))
    assert linked.exit_code == 0, linked.output


def _files(folder: Path, count: int, size: int = 20 * 1024) -> list[str]:
    folder.mkdir(exist_ok=True)
    made = []
    for n in range(count):
        path = folder / f"receipt-{n:03}.pdf"
        path.write_bytes(os.urandom(size))
        made.append(str(path))
    return made


def _submit(*files: str) -> dict[str, object]:
    done = koppel(
        "submit", "--to", "D0001", "--type", "Invoice", "--env", "C20001", "--json", *files
    )
    assert done.exit_code == 0, done.output
    result: dict[str, object] = json.loads(done.stdout)
    return result


def _tus_requests(server: LiveServer) -> list[tuple[str, str]]:
    return [
        (r.method, r.headers.get("Content-Type", ""))
        for r in server.requests
        if r.path.startswith(UPLOADS)
    ]


def _submitted(tmp_path: Path, server: LiveServer, count: int) -> list[tuple[str, str]]:
    """Link, submit ``count`` small files as one item (all of them in it), and return
    the upload requests the server answered meanwhile."""
    _link(tmp_path, server)
    files = _files(tmp_path / "scans", count)
    server.requests.clear()
    item = _submit(*files)["item"]
    assert isinstance(item, dict) and len(item["attachments"]) == count
    return _tus_requests(server)


def test_small_files_go_in_one_request_each(tmp_path: Path, server: LiveServer) -> None:
    tus = _submitted(tmp_path, server, 12)
    # One capability probe for the command, then one creation carrying each file.
    assert tus.count(("OPTIONS", "")) == 1
    assert [t for t in tus if t[0] != "OPTIONS"] == [("POST", OFFSET_STREAM)] * 12


def test_a_file_worth_resuming_keeps_create_and_patch(tmp_path: Path, server: LiveServer) -> None:
    # Its URL is saved before its first byte (upload_batch.RESUMABLE_BYTES), so it cannot be
    # sent with its creation; the one-request path stays below that size.
    assert _tus.ONE_REQUEST_BYTES <= upload_batch.RESUMABLE_BYTES
    _link(tmp_path, server)
    (big,) = _files(tmp_path / "big", 1, upload_batch.RESUMABLE_BYTES + 1)
    (small,) = _files(tmp_path / "small", 1)
    server.requests.clear()
    _submit(big, small)
    methods = [method for method, _ in _tus_requests(server)]
    assert methods.count("POST") == 2 and methods.count("PATCH") == 1
    bare = [t for t in _tus_requests(server) if t == ("POST", "")]
    assert len(bare) == 1  # the large file's creation carries no bytes


def test_a_server_without_the_extension_gets_create_and_patch(
    tmp_path: Path, server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    without = tuple(e for e in tus_routes.TUS_EXTENSIONS if e != "creation-with-upload")
    monkeypatch.setattr(tus_routes, "TUS_EXTENSIONS", without)
    tus = _submitted(tmp_path, server, 5)
    assert tus.count(("OPTIONS", "")) == 1
    assert tus.count(("POST", "")) == 5 and tus.count(("PATCH", OFFSET_STREAM)) == 5
    assert ("POST", OFFSET_STREAM) not in tus


def test_chunk_checksums_cover_the_one_request(
    tmp_path: Path, server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(_tus.CHECKSUM_ENV, "chunk")
    _link(tmp_path, server)
    files = _files(tmp_path / "scans", 2)
    server.requests.clear()
    _submit(*files)
    posts = [r for r in server.requests if r.method == "POST" and r.path == UPLOADS]
    assert len(posts) == 2
    assert all(r.headers["Upload-Checksum"].startswith("sha256 ") for r in posts)
