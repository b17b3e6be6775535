"""tus creation-with-upload (issue 13): a POST to the uploads collection that carries the
file's bytes creates the upload and appends them in the same request, with PATCH's rules
(size, checksum, allowed types) and its completion. The real app in process (httpx's
ASGI transport); the connection broken off mid-body is a raw ASGI call whose client
disconnects after part of the body, as uvicorn reports a dropped connection."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from app_client import InProcess, bearer

UPLOADS = "/api/v1/environments/C20001/uploads"
OFFSET_STREAM = "application/offset+octet-stream"


def _meta(**pairs: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in pairs.items())


def _headers(token: str, length: int, name: str, **extra: str) -> dict[str, str]:
    return {
        **bearer(token),
        "Tus-Resumable": "1.0.0",
        "Upload-Length": str(length),
        "Upload-Metadata": _meta(filename=name),
        "Content-Type": OFFSET_STREAM,
        **extra,
    }


def _post(app: InProcess, token: str, body: bytes, name: str = "scan.pdf", **extra: Any
          ) -> httpx.Response:  # fmt: skip
    length = int(extra.pop("length", len(body)))
    return app.client().post(UPLOADS, headers=_headers(token, length, name, **extra), content=body)


def _rows(app: InProcess) -> list[Any]:
    with app.sql() as connection:
        return list(
            connection.exec_driver_sql('SELECT id, "offset", completed_at, sha256 FROM uploads')
        )


def _stored(app: InProcess) -> list[Path]:
    return sorted(p for p in (app.data_dir / "blobs").rglob("*") if p.is_file())


def _resume_completes(demo_app: InProcess, token: str, url: str, data: bytes, kept: int) -> None:
    """The upload at ``url`` holds ``kept`` bytes of ``data``; a PATCH of the rest
    completes it, with the whole file's sha256."""
    client = demo_app.client()
    tus = {**bearer(token), "Tus-Resumable": "1.0.0"}
    assert client.head(url, headers=tus).headers["Upload-Offset"] == str(kept)
    rest = client.patch(
        url,
        headers={**tus, "Upload-Offset": str(kept), "Content-Type": OFFSET_STREAM},
        content=data[kept:],
    )
    assert (
        rest.status_code == 204
        and rest.headers["Koppel-Sha256"] == hashlib.sha256(data).hexdigest()
    )


def test_tus_extension_lists_creation_with_upload(demo_app: InProcess) -> None:
    answer = demo_app.client().request("OPTIONS", UPLOADS)
    assert answer.status_code == 204
    assert "creation-with-upload" in answer.headers["Tus-Extension"].split(",")
    document = demo_app.client().get("/openapi.json").json()
    creation = document["paths"]["/api/v1/environments/{env}/uploads"]["post"]
    assert set(creation["requestBody"]["content"]) == {OFFSET_STREAM}
    assert creation["requestBody"].get("required") is False
    assert "Upload-Offset" in creation["responses"]["201"]["headers"]


def test_a_small_file_is_complete_after_one_request(demo_app: InProcess) -> None:
    token = demo_app.token("C20001")
    data = os.urandom(20 * 1024)
    created = _post(demo_app, token, data)
    assert created.status_code == 201, created.text
    assert created.headers["Upload-Offset"] == str(len(data))
    assert created.headers["Koppel-Sha256"] == hashlib.sha256(data).hexdigest()
    assert created.headers["Tus-Resumable"] == "1.0.0"
    url = created.headers["Location"]
    (row,) = _rows(demo_app)
    assert url.endswith("/" + row.id) and row.completed_at is not None
    assert row.sha256 == hashlib.sha256(data).hexdigest()
    # Completed exactly as after a final PATCH: the dossier takes it as an attachment.
    item = demo_app.client().post(
        "/api/v1/environments/C20001/items",
        headers=bearer(token),
        json={"submission_id": "one-request-1", "subject": "One request", "type": "Invoice",
              "destination": "D0001", "uploads": [row.id]},
    )  # fmt: skip
    assert item.status_code == 201, item.text
    (attachment,) = item.json()["attachments"]
    assert attachment["name"] == "scan.pdf"
    assert attachment["current"]["sha256"] == hashlib.sha256(data).hexdigest()


def test_a_body_checked_by_upload_checksum(demo_app: InProcess) -> None:
    token = demo_app.token("C20001")
    data = os.urandom(5000)
    good = "sha256 " + base64.b64encode(hashlib.sha256(data).digest()).decode()
    bad = "sha256 " + base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    refused = _post(demo_app, token, data, **{"Upload-Checksum": bad})
    assert refused.status_code == 460 and refused.json()["code"] == "checksum_mismatch"
    # The client got no Location: nothing of the refused upload is kept.
    assert _rows(demo_app) == []
    accepted = _post(demo_app, token, data, **{"Upload-Checksum": good})
    assert accepted.status_code == 201 and accepted.headers["Upload-Offset"] == "5000"


def test_a_short_body_leaves_a_resumable_upload_at_its_offset(demo_app: InProcess) -> None:
    token = demo_app.token("C20001")
    data = os.urandom(10_000)
    created = _post(demo_app, token, data[:4000], length=len(data))
    assert created.status_code == 201, created.text
    assert created.headers["Upload-Offset"] == "4000"
    assert "Koppel-Sha256" not in created.headers
    _resume_completes(demo_app, token, created.headers["Location"], data, 4000)


def _cut_off(app: InProcess, token: str, declared: int, sent: bytes) -> list[dict[str, Any]]:
    """A creation request whose client sends ``sent`` (of ``declared`` bytes) and then
    disconnects; the ASGI messages the app sent back."""
    headers = _headers(token, declared, "cut.pdf", **{"Content-Length": str(declared)})
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "root_path": "",
        "path": UPLOADS,
        "raw_path": UPLOADS.encode(),
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    incoming = [
        {"type": "http.request", "body": sent[:1000], "more_body": True},
        {"type": "http.request", "body": sent[1000:], "more_body": True},
        {"type": "http.disconnect"},
    ]
    answered: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if incoming:
            return incoming.pop(0)
        await asyncio.sleep(3600)
        raise AssertionError("the app read past the disconnect")

    async def send(message: dict[str, Any]) -> None:
        answered.append(message)

    asyncio.run(app.app(scope, receive, send))
    return answered


def test_a_body_cut_short_keeps_what_arrived_to_resume(demo_app: InProcess) -> None:
    token = demo_app.token("C20001")
    data = os.urandom(50_000)
    _cut_off(demo_app, token, len(data), data[:30_000])
    (row,) = _rows(demo_app)
    assert row.completed_at is None
    # The offset received, never a half-finished (or completed) upload: resume from there.
    _resume_completes(demo_app, token, f"{UPLOADS}/{row.id}", data, 30_000)


def test_too_large_is_refused_and_nothing_kept(demo_app: InProcess) -> None:
    token = demo_app.token("C20001")
    before = _stored(demo_app)
    limit = demo_app.svc.settings.upload_limits().max_bytes
    # Declared beyond the server's limit.
    over = _post(demo_app, token, b"x" * 100, length=limit + 1)
    assert over.status_code == 413 and over.json()["code"] == "too_large"
    # A body longer than the declared length (stated, then not stated: chunked).
    longer = _post(demo_app, token, b"x" * 100, length=50)
    assert longer.status_code == 413 and longer.json()["code"] == "too_large"
    chunked = demo_app.client().post(
        UPLOADS, headers=_headers(token, 50, "scan.pdf"), content=iter([b"x" * 30, b"y" * 30])
    )
    assert chunked.status_code == 413 and chunked.json()["code"] == "too_large"
    assert _rows(demo_app) == [] and _stored(demo_app) == before


def test_a_type_not_accepted_is_refused_before_any_byte(demo_app: InProcess) -> None:
    token = demo_app.token("C20001")
    before = _stored(demo_app)
    refused = _post(demo_app, token, b"MZ" + os.urandom(100), name="setup.exe")
    assert refused.status_code == 415 and refused.json()["code"] == "extension_not_allowed"
    assert _rows(demo_app) == [] and _stored(demo_app) == before


def test_a_creation_without_bytes_is_unchanged(demo_app: InProcess) -> None:
    token = demo_app.token("C20001")
    headers = _headers(token, 10, "scan.pdf")
    del headers["Content-Type"]
    created = demo_app.client().post(UPLOADS, headers=headers)
    assert created.status_code == 201 and "Upload-Offset" not in created.headers


class _Counting:
    """The app's store, counting the units of work (transactions) it opens."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.opened = 0

    def transaction(self) -> Any:
        self.opened += 1
        return self.store.transaction()


def test_one_small_file_costs_two_transactions(
    demo_app: InProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = demo_app.token("C20001")
    counting = _Counting(demo_app.svc.store)
    monkeypatch.setattr(demo_app.svc, "store", counting)
    created = _post(demo_app, token, os.urandom(20 * 1024))
    assert created.status_code == 201, created.text
    # Credentials and creation in one; the bytes' record and completion in the other
    # (create then PATCH took five: credentials twice, creation, the offset, the record).
    assert counting.opened == 2
