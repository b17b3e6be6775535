"""Every request body that carries a file goes from the connection to the blob store by
one streaming path (the tus PATCH, the integration push, the portal's form): nothing is
spooled whole to a temporary file first, and the stored bytes are the bytes sent.
The real app in process."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any

import pytest

from app_client import InProcess
from portal_in_process import PortalBrowser
from test_extensions import _integration_key

BIG = bytes(range(256)) * (12 * 1024)  # 3 MiB: larger than any spool kept in memory


class _CountingSpool(tempfile.SpooledTemporaryFile):  # type: ignore[type-arg]
    made = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        type(self).made += 1
        super().__init__(*args, **kwargs)


@pytest.fixture
def spools(monkeypatch: pytest.MonkeyPatch) -> type[_CountingSpool]:
    """Counts the spooled temporary files a form parser makes (Starlette's ``request.form()``
    spools every file part of a form into one)."""
    import starlette.datastructures
    import starlette.formparsers

    _CountingSpool.made = 0
    monkeypatch.setattr(starlette.formparsers, "SpooledTemporaryFile", _CountingSpool)
    monkeypatch.setattr(tempfile, "SpooledTemporaryFile", _CountingSpool)
    assert starlette.datastructures  # the UploadFile it builds holds the spool
    return _CountingSpool


def _stored_sha256(app: InProcess, table: str) -> list[str]:
    with app.sql() as connection:
        return [row.sha256 for row in connection.exec_driver_sql(f"SELECT sha256 FROM {table}")]


def _blob_bytes(app: InProcess) -> list[bytes]:
    root: Path = app.svc.settings.data_dir / "blobs" / "blobs"
    return [p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()]


def test_a_multipart_push_is_streamed_not_spooled(
    demo_app: InProcess, spools: type[_CountingSpool]
) -> None:
    answer = demo_app.client().post(
        "/api/v1/environments/C20001/users/bram/files",
        headers=_integration_key(demo_app),
        files={"file": ("Loonstroken 2026.pdf", BIG, "application/pdf")},
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["name"] == "Loonstroken 2026.pdf"
    assert spools.made == 0
    assert _stored_sha256(demo_app, "output_files") == [hashlib.sha256(BIG).hexdigest()]
    assert BIG in _blob_bytes(demo_app)


def test_a_multipart_push_needs_its_file_field(demo_app: InProcess) -> None:
    answer = demo_app.client().post(
        "/api/v1/environments/C20001/users/bram/files",
        headers=_integration_key(demo_app),
        files={"document": ("a.pdf", b"%PDF", "application/pdf")},
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "validation_error"
    assert "'file'" in answer.json()["message"]
    assert _stored_sha256(demo_app, "output_files") == []


@pytest.mark.parametrize(
    "body",
    [
        b"--b\r\n\r\n\r\nx\r\n--b--\r\n",  # a part without headers
        b'--b\r\nContent-Disposition: form-data; name="file"\r\x0d\rbad\r\n--b--\r\n',
    ],
)
def test_a_malformed_multipart_push_is_a_clear_refusal(demo_app: InProcess, body: bytes) -> None:
    # Found by the schema fuzz test: the parser's error escaped as a server error.
    answer = demo_app.client().post(
        "/api/v1/environments/C20001/users/bram/files",
        headers={**_integration_key(demo_app), "Content-Type": "multipart/form-data; boundary=b"},
        content=body,
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "validation_error"
    assert "file" in answer.json()["message"]
    assert _stored_sha256(demo_app, "output_files") == []


def test_a_multipart_push_declared_larger_than_the_limit_stores_nothing(
    demo_app: InProcess,
) -> None:
    limit = demo_app.svc.settings.upload_limits().max_bytes
    boundary = "koppel-test-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        'filename="big.pdf"\r\nContent-Type: application/pdf\r\n\r\n'
    ).encode()
    declared = len(head) + limit + 70 * 1024
    answer = demo_app.client().post(
        "/api/v1/environments/C20001/users/bram/files",
        headers={
            **_integration_key(demo_app),
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(declared),
        },
        content=head + b"x" * 1024,
    )
    assert answer.status_code == 413, answer.text
    assert answer.json()["code"] == "too_large"
    assert _stored_sha256(demo_app, "output_files") == []


def test_a_portal_form_and_a_tus_upload_are_streamed_not_spooled(
    demo_app: InProcess, spools: type[_CountingSpool]
) -> None:
    from api_in_process import AgentApi

    portal = PortalBrowser(demo_app).signed_in("anna")
    portal.get(portal.path("environments", "C20001", "dossier"))
    filed = portal.post(
        portal.path("environments", "C20001", "dossier", "items"),
        {"subject": "Jaarstukken", "type": "Invoice", "destination": "D0001"},
        files={"file": ("jaarstukken.pdf", BIG, "application/pdf")},
    )
    assert filed.status_code == 200, filed.text
    anna = AgentApi(demo_app, "C20001", "anna")
    upload_id = anna.upload("scan.pdf", BIG[::-1])
    assert upload_id
    assert spools.made == 0
    assert BIG in _blob_bytes(demo_app)
