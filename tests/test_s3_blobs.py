"""Blobs on S3-compatible storage (issue 14): the store against a real S3 server on
loopback, and tus uploads, downloads and /readyz of the app with KOPPEL_BLOB_URL.

The S3 server is moto's standalone server (from PyPI): production uses AWS S3, MinIO or
Ceph RGW, which speak the same API; here nothing is mocked below the HTTP of S3."""

from __future__ import annotations

import base64
import hashlib
import itertools
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from api_in_process import TUS, AgentApi
from app_client import InProcess, make_in_process
from koppel.server.adapters.app import create_app
from koppel.server.adapters.assembly import create_services
from koppel.server.adapters.blobs.s3 import PART_MINIMUM, S3BlobStore, parse_blob_url
from koppel.server.domain.transfer import uploads as up
from koppel.server.domain.transfer.blobs import BlobNotFound

MIB = 1024 * 1024
OFFSET_STREAM = "application/offset+octet-stream"


def _bucket(url: str) -> str:
    return parse_blob_url(url)[0]


def _multipart_uploads(s3_endpoint: Any, url: str) -> list[dict[str, Any]]:
    listed = s3_endpoint.client().list_multipart_uploads(Bucket=_bucket(url))
    return list(listed.get("Uploads", []))


def _objects(s3_endpoint: Any, url: str) -> list[str]:
    listed = s3_endpoint.client().list_objects_v2(Bucket=_bucket(url))
    return [o["Key"] for o in listed.get("Contents", [])]


# -- the store ---------------------------------------------------------------------------


def test_a_partial_grows_in_parts_survives_a_restart_and_commits(s3_endpoint: Any) -> None:
    url = s3_endpoint.new_bucket()
    store = S3BlobStore.from_url(url)
    data = os.urandom(12 * MIB + 7)
    # Pieces under the part minimum, synced now and then as requests end.
    for n, start in enumerate(range(0, len(data), 700_000)):
        size = store.append("uploads/ua", [data[start : start + 700_000]], sync=False)
        assert size == min(start + 700_000, len(data))
        if n % 4 == 3:
            store.sync_partial("uploads/ua")
    store.sync_partial("uploads/ua")
    # Two parts went up as they filled; the tail under 5 MiB waits in the record.
    (pending,) = _multipart_uploads(s3_endpoint, url)
    parts = s3_endpoint.client().list_parts(
        Bucket=_bucket(url), Key=pending["Key"], UploadId=pending["UploadId"]
    )["Parts"]
    assert len(parts) == 2 and all(p["Size"] >= PART_MINIMUM for p in parts)

    restarted = S3BlobStore.from_url(url)  # another process, or another replica
    assert restarted.partial_size("uploads/ua") == len(data)
    restarted.commit("uploads/ua", "uploads/fa")
    assert restarted.partial_size("uploads/ua") == 0
    assert restarted.size("uploads/fa") == len(data)
    assert b"".join(restarted.read("uploads/fa")) == data
    assert (
        b"".join(restarted.read("uploads/fa", 5 * MIB - 3, 10 * MIB + 1))
        == data[5 * MIB - 3 : 10 * MIB + 1]
    )
    assert b"".join(restarted.read("uploads/fa", len(data) + 10)) == b""
    assert _multipart_uploads(s3_endpoint, url) == []
    assert _objects(s3_endpoint, url) == ["blobs-test/blobs/uploads/fa"]
    restarted.delete("uploads/fa")
    with pytest.raises(BlobNotFound):
        restarted.size("uploads/fa")
    with pytest.raises(BlobNotFound):
        b"".join(restarted.read("uploads/fa"))


def test_small_blobs_need_no_multipart_upload(s3_endpoint: Any) -> None:
    url = s3_endpoint.new_bucket()
    store = S3BlobStore.from_url(url)
    assert store.append("p1", [b"hello", b" world"]) == 11
    assert store.partial_size("p1") == 11
    store.commit("p1", "outbox/one")
    assert b"".join(store.read("outbox/one", 6)) == b"world"
    store.append("p2", [], sync=True)  # an empty blob exists too
    store.commit("p2", "outbox/empty")
    assert store.size("outbox/empty") == 0
    with pytest.raises(BlobNotFound):
        store.commit("never", "outbox/x")
    assert _multipart_uploads(s3_endpoint, url) == []


def test_a_part_uploaded_but_never_recorded_is_not_counted(s3_endpoint: Any) -> None:
    """A crash between uploading a part and rewriting the record: the size is what was
    acknowledged, and the next bytes continue from there."""
    url = s3_endpoint.new_bucket()
    store = S3BlobStore.from_url(url)
    first, lost, after = os.urandom(MIB), os.urandom(5 * MIB), os.urandom(6 * MIB)
    store.append("p", [first])
    store.append("p", [lost], sync=False)  # a part goes up; the process dies before sync
    crashed_into = S3BlobStore.from_url(url)
    assert crashed_into.partial_size("p") == MIB
    crashed_into.append("p", [after])
    crashed_into.commit("p", "k")
    assert b"".join(crashed_into.read("k")) == first + after


def test_discarding_aborts_the_multipart_upload(s3_endpoint: Any) -> None:
    url = s3_endpoint.new_bucket()
    store = S3BlobStore.from_url(url)
    store.append("uploads/ub", [os.urandom(6 * MIB)])
    assert len(_multipart_uploads(s3_endpoint, url)) == 1
    S3BlobStore.from_url(url).discard_partial("uploads/ub")
    assert _multipart_uploads(s3_endpoint, url) == []
    assert _objects(s3_endpoint, url) == []
    store.discard_partial("uploads/ub")  # nothing left: nothing to do


def test_an_unreachable_bucket_is_a_problem(s3_endpoint: Any) -> None:
    assert S3BlobStore.from_url(s3_endpoint.new_bucket()).problem() is None
    missing = S3BlobStore.from_url("s3://no-such-bucket-koppel/x").problem()
    assert missing is not None and "no-such-bucket-koppel" in missing


# -- the app with KOPPEL_BLOB_URL ----------------------------------------------------------


@pytest.fixture
def s3_app(tmp_path: Path, s3_endpoint: Any) -> Iterator[InProcess]:
    made = make_in_process(tmp_path / "server", blob_url=s3_endpoint.new_bucket())
    try:
        yield made
    finally:
        made.close()


def _restarted(app: InProcess) -> InProcess:
    """The same data and bucket opened by a new server (a restart, or another replica)."""
    svc = create_services(app.svc.settings)
    return InProcess(svc, create_app(svc), app.clock, app.env)


def _patch(api: AgentApi, upload_id: str, offset: int, body: bytes) -> Any:
    headers = {**TUS, "Upload-Offset": str(offset), "Content-Type": OFFSET_STREAM}
    return api.request("PATCH", f"uploads/{upload_id}", content=body, headers=headers)


def _offset(api: AgentApi, upload_id: str) -> int:
    answer = api.request("HEAD", f"uploads/{upload_id}", headers=TUS)
    assert answer.status_code == 200, answer.text
    return int(answer.headers["Upload-Offset"])


def test_a_12_mib_upload_in_pieces_resumes_after_a_restart(
    s3_app: InProcess, s3_endpoint: Any
) -> None:
    url = s3_app.svc.settings.blob_url
    assert url is not None and isinstance(s3_app.svc.blobs, S3BlobStore)
    anna = AgentApi(s3_app, "C20001", "anna")
    data = os.urandom(12 * MIB)
    upload_id = anna.new_upload("archive.zip", len(data))
    cuts = [0, 1 * MIB, 3 * MIB + 5, 7 * MIB]  # pieces under and over the part minimum
    for start, end in itertools.pairwise(cuts):
        assert _patch(anna, upload_id, start, data[start:end]).status_code == 204
    assert _offset(anna, upload_id) == 7 * MIB
    assert not list((s3_app.data_dir / "blobs" / "partial").rglob("*"))  # nothing on disk

    again = _restarted(s3_app)
    try:
        anna_again = AgentApi(again, "C20001", "anna")
        anna_again.token = anna.token
        assert _offset(anna_again, upload_id) == 7 * MIB
        done = _patch(anna_again, upload_id, 7 * MIB, data[7 * MIB :])
        assert done.status_code == 204, done.text
        assert done.headers["Upload-Offset"] == str(len(data))
        sha256 = hashlib.sha256(data).hexdigest()
        assert sha256 in done.headers.values()
        assert _multipart_uploads(s3_endpoint, url) == []

        item = anna_again.request(
            "POST",
            "items",
            json={
                "submission_id": "s3-000001",
                "subject": "Archive",
                "type": "Correspondence",
                "destination": "ORG",
                "uploads": [upload_id],
            },
        )
        assert item.status_code == 201, item.text
        version = item.json()["attachments"][0]["current"]
        assert version["sha256"] == sha256
        content = f"items/{item.json()['id']}/content"
        whole = anna_again.request("GET", content)
        assert whole.status_code == 200 and whole.content == data
        ranged = anna_again.request("GET", content, headers={"Range": "bytes=5000000-11000000"})
        assert ranged.status_code == 206 and ranged.content == data[5_000_000:11_000_001]
    finally:
        again.close()


def test_termination_and_expiry_abort_the_multipart_upload(
    s3_app: InProcess, s3_endpoint: Any
) -> None:
    url = s3_app.svc.settings.blob_url
    anna = AgentApi(s3_app, "C20001", "anna")
    terminated = anna.new_upload("a.zip", 8 * MIB)
    assert _patch(anna, terminated, 0, os.urandom(6 * MIB)).status_code == 204
    expiring = anna.new_upload("b.zip", 8 * MIB)
    assert _patch(anna, expiring, 0, os.urandom(6 * MIB)).status_code == 204
    assert len(_multipart_uploads(s3_endpoint, url)) == 2

    gone = anna.request("DELETE", f"uploads/{terminated}", headers=TUS)
    assert gone.status_code == 204
    assert len(_multipart_uploads(s3_endpoint, url)) == 1
    with s3_app.transaction() as uow:
        later = datetime.now(UTC) + timedelta(days=30)
        assert up.sweep_expired(uow.uploads, s3_app.svc.blobs, later) == 1
    assert _multipart_uploads(s3_endpoint, url) == []
    assert not [k for k in _objects(s3_endpoint, url) if "/partial/" in k]


def test_checksummed_patches_and_my_files_on_s3(s3_app: InProcess) -> None:
    anna = AgentApi(s3_app, "C20001", "anna")
    data = os.urandom(300_000)
    upload_id = anna.new_upload("scan.pdf", len(data))
    digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
    answer = anna.request(
        "PATCH",
        f"uploads/{upload_id}",
        content=data,
        headers={
            **TUS,
            "Upload-Offset": "0",
            "Content-Type": OFFSET_STREAM,
            "Upload-Checksum": f"sha256 {digest}",
        },
    )
    assert answer.status_code == 204, answer.text
    published = anna.publish("report.txt", b"for anna")
    assert anna.content(published) == b"for anna"


def test_readyz_is_503_when_the_bucket_is_unreachable(tmp_path: Path, s3_endpoint: Any) -> None:
    app = make_in_process(tmp_path / "server", demo=False, blob_url="s3://koppel-gone-bucket/p")
    try:
        down = app.client().get("/readyz")
        assert down.status_code == 503
        assert "koppel-gone-bucket" in down.json()["checks"]["blobs"]
        assert down.json()["checks"]["database"] == "ok"
    finally:
        app.close()


def test_housekeeping_aborts_an_expired_upload(s3_app: InProcess, s3_endpoint: Any) -> None:
    """Expired uploads are swept every few minutes, not only when the next one is made."""
    import sqlalchemy

    from koppel.server.adapters.housekeeping import Housekeeping

    url = s3_app.svc.settings.blob_url
    anna = AgentApi(s3_app, "C20001", "anna")
    upload_id = anna.new_upload("c.zip", 8 * MIB)
    assert _patch(anna, upload_id, 0, os.urandom(6 * MIB)).status_code == 204
    assert len(_multipart_uploads(s3_endpoint, url)) == 1
    with s3_app.sql() as conn:
        past = datetime.now(UTC) - timedelta(minutes=1)
        conn.execute(sqlalchemy.text("UPDATE uploads SET expires_at = :t"), {"t": past})
    assert Housekeeping(s3_app.svc).run_once()["expired uploads"] == 1
    assert _multipart_uploads(s3_endpoint, url) == []
    assert anna.request("HEAD", f"uploads/{upload_id}", headers=TUS).status_code == 404


def test_a_killed_koppel_server_process_resumes_the_upload_from_the_bucket(
    tmp_path: Path, s3_endpoint: Any
) -> None:
    """A ``koppel-server`` process killed (SIGKILL) mid-upload: the restarted process
    knows the offset from the bucket alone, the upload finishes byte-identical."""
    import httpx

    from app_client import UPDATE
    from harness import DEMO_PASSWORD, make_server

    server = make_server(tmp_path, process=True)
    server.env["KOPPEL_BLOB_URL"] = s3_endpoint.new_bucket()
    server.start("--demo")
    try:
        base = f"{server.url}/api/v1"
        settings = httpx.get(
            f"{base}/environments/F10001/settings", auth=("anna", DEMO_PASSWORD), headers=UPDATE
        )
        linked = httpx.post(
            f"{base}/links",
            headers=UPDATE,
            json={"workstation": {"id": "ws-s3-0001", "name": "ws"}, "settings": [settings.json()]},
        )
        token = linked.json()["links"][0]["token"]
        http = httpx.Client(
            base_url=f"{base}/environments/F10001",
            headers={**UPDATE, **TUS, "Authorization": f"Bearer {token}"},
            timeout=60,
        )
        data = os.urandom(9 * MIB + 11)
        name = base64.b64encode(b"big.zip").decode()
        meta = {"Upload-Length": str(len(data)), "Upload-Metadata": f"filename {name}"}
        created = http.post("uploads", headers=meta)
        location = created.headers["Location"]
        for start, end in ((0, 2 * MIB), (2 * MIB, 6 * MIB)):
            sent = http.patch(
                location,
                content=data[start:end],
                headers={"Upload-Offset": str(start), "Content-Type": OFFSET_STREAM},
            )
            assert sent.status_code == 204, sent.text
        assert server.process is not None
        server.process.kill()
        server.process.wait()
        server.process = None
        server.start()
        assert http.head(location).headers["Upload-Offset"] == str(6 * MIB)
        done = http.patch(
            location,
            content=data[6 * MIB :],
            headers={"Upload-Offset": str(6 * MIB), "Content-Type": OFFSET_STREAM},
        )
        assert done.status_code == 204 and done.headers["Upload-Offset"] == str(len(data))
        item = http.post(
            "items",
            json={
                "submission_id": "s3-restart-1",
                "subject": "Big",
                "type": "Correspondence",
                "destination": "ORG",
                "uploads": [location.rsplit("/", 1)[-1]],
            },
        )
        assert item.status_code == 201, item.text
        got = http.get(f"items/{item.json()['id']}/content")
        assert got.content == data
        sha256 = item.json()["attachments"][0]["current"]["sha256"]
        assert sha256 == hashlib.sha256(data).hexdigest()
        http.close()
    finally:
        server.stop()


@pytest.mark.parametrize(
    "url",
    [
        "s3://",
        "/srv/koppel/blobs",
        "https://bucket/p",
        "s3://b/p?x=1",
        "s3://s3://bucket/p",
        "s3://Bucket/p",
    ],
)
def test_a_blob_url_that_is_no_bucket_is_refused_at_start(url: str) -> None:
    from pydantic import ValidationError

    from koppel.server.config import ServerSettings

    with pytest.raises(ValidationError, match="s3://bucket/prefix"):
        ServerSettings(blob_url=url)
    assert ServerSettings(blob_url=" ").blob_url is None
    assert parse_blob_url("s3://koppel/a/b/") == ("koppel", "a/b/")
    assert parse_blob_url("s3://koppel") == ("koppel", "")


def test_a_whole_file_handed_over_at_once_goes_up_in_parts_of_5_mib(s3_endpoint: Any) -> None:
    url = s3_endpoint.new_bucket()
    store = S3BlobStore.from_url(url)
    data = os.urandom(11 * MIB)
    assert store.append("p", [data], sync=False) == len(data)
    (pending,) = _multipart_uploads(s3_endpoint, url)
    parts = s3_endpoint.client().list_parts(
        Bucket=_bucket(url), Key=pending["Key"], UploadId=pending["UploadId"]
    )["Parts"]
    assert [p["Size"] for p in parts] == [PART_MINIMUM, PART_MINIMUM]
    store.commit("p", "k")  # straight from memory: the last MiB is the last part
    assert b"".join(store.read("k")) == data
    assert _objects(s3_endpoint, url) == ["blobs-test/blobs/k"]


def test_koppel_server_names_a_wrong_blob_url(tmp_path: Path) -> None:
    import subprocess

    from harness import BIN, make_server

    server = make_server(tmp_path, process=True)
    env = {**server.env, "KOPPEL_BLOB_URL": "/srv/koppel/blobs"}
    ran = subprocess.run(
        [str(BIN / "koppel-server")], env=env, capture_output=True, text=True, timeout=60
    )
    assert ran.returncode == 2
    assert "KOPPEL_BLOB_URL" in ran.stderr and "s3://bucket/prefix" in ran.stderr
    assert "Traceback" not in ran.stderr


def test_creation_with_upload_on_s3(s3_app: InProcess, s3_endpoint: Any) -> None:
    """A POST carrying a 6 MiB file (one part and a tail) completes the upload at once."""
    from app_client import bearer

    anna = AgentApi(s3_app, "C20001", "anna")
    data = os.urandom(6 * MIB + 3)
    name = base64.b64encode(b"scan.pdf").decode()
    created = s3_app.client().post(
        "/api/v1/environments/C20001/uploads",
        content=data,
        headers={
            **bearer(anna.token),
            **TUS,
            "Upload-Length": str(len(data)),
            "Upload-Metadata": f"filename {name}",
            "Content-Type": OFFSET_STREAM,
        },
    )
    assert created.status_code == 201, created.text
    assert created.headers["Upload-Offset"] == str(len(data))
    assert hashlib.sha256(data).hexdigest() in created.headers.values()
    url = s3_app.svc.settings.blob_url
    assert _multipart_uploads(s3_endpoint, url) == []
    assert not [k for k in _objects(s3_endpoint, url) if "/partial/" in k]
