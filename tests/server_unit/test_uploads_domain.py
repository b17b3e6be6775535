"""The rules of uploads without HTTP: limits, offsets, checksums, crash recovery, expiry
and claiming (an in-memory repository, a real local blob store)."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from koppel.protocol.errors import ErrorCode
from koppel.server.adapters.blobs import LocalBlobStore
from koppel.server.domain.errors import DomainError
from koppel.server.domain.transfer import uploads as up
from koppel.server.domain.transfer.extensions import Allowlist

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
LIMITS = up.UploadLimits(max_bytes=1000, expiry=timedelta(hours=24))


class MemoryUploads:
    """An ``UploadRepository`` in a dict."""

    def __init__(self) -> None:
        self.rows: dict[str, up.Upload] = {}

    def add(self, upload: up.Upload) -> None:
        self.rows[upload.id] = upload

    def get(self, upload_id: str) -> up.Upload | None:
        return self.rows.get(upload_id)

    def set_offset(self, upload_id: str, offset: int) -> None:
        self.rows[upload_id] = replace(self.rows[upload_id], offset=offset)

    def set_completed(self, upload_id: str, sha256: str, blob_key: str, at: datetime) -> None:
        row = self.rows[upload_id]
        self.rows[upload_id] = replace(
            row, completed_at=at, sha256=sha256, blob_key=blob_key, offset=row.declared_length
        )

    def mark_claimed(self, upload_id: str, at: datetime) -> bool:
        row = self.rows[upload_id]
        if row.claimed_at is not None:
            return False
        self.rows[upload_id] = replace(row, claimed_at=at)
        return True

    def delete(self, upload_id: str) -> None:
        self.rows.pop(upload_id, None)

    def expired(self, now: datetime, limit: int) -> list[up.Upload]:
        found = [u for u in self.rows.values() if u.claimed_at is None and u.expires_at <= now]
        return found[:limit]


def _new(repo: MemoryUploads, blobs: LocalBlobStore, length: int = 11, **kw: object) -> up.Upload:
    args: dict[str, object] = {
        "environment_id": 1,
        "membership_id": 7,
        "filename": "a.txt",
        "media_type": None,
        "length": length,
        "now": NOW,
        "allowed": Allowlist.of_default("F10001"),
    }
    args.update(kw)
    return up.create(repo, blobs, LIMITS, **args)  # type: ignore[arg-type]


def _send(
    repo: MemoryUploads,
    blobs: LocalBlobStore,
    upload: up.Upload,
    data: bytes,
    checksum: tuple[str, bytes] | None = None,
) -> up.Upload:
    up.check_append(upload, upload.offset, len(data))
    receiver = up.ChunkReceiver(blobs, upload, checksum)
    refusal: DomainError | None = None
    try:
        receiver.feed(data)
        receiver.finish()
    except DomainError as exc:
        refusal = exc
    recorded = up.record_progress(repo, blobs, upload, NOW)
    if refusal is not None:
        raise refusal
    return recorded


def _find(repo: MemoryUploads, blobs: LocalBlobStore, upload_id: str, **kw: object) -> up.Upload:
    args: dict[str, object] = {"environment_id": 1, "membership_id": 7, "now": NOW}
    args.update(kw)
    return up.find(repo, blobs, upload_id, **args)  # type: ignore[arg-type]


def test_creation_refusals_come_before_any_byte(tmp_path: Path) -> None:
    repo, blobs = MemoryUploads(), LocalBlobStore(tmp_path)
    with pytest.raises(DomainError) as too_large:
        _new(repo, blobs, 1001)
    assert too_large.value.code == ErrorCode.TOO_LARGE
    assert "(1,001 bytes)" in str(too_large.value) and "at most 1,000 bytes" in str(too_large.value)
    for name, code in (("CON.txt", ErrorCode.UNSAFE_NAME), (None, ErrorCode.VALIDATION_ERROR)):
        with pytest.raises(DomainError) as refused:
            _new(repo, blobs, filename=name)
        assert refused.value.code == code
    with pytest.raises(DomainError) as empty:
        _new(repo, blobs, 0)
    assert empty.value.code == ErrorCode.EMPTY_FILE
    assert repo.rows == {}
    made = _new(repo, blobs, filename="scan.pdf")
    assert made.media_type == "application/pdf" and made.expires_at == NOW + LIMITS.expiry


def test_chunks_checksums_and_completion(tmp_path: Path) -> None:
    repo, blobs = MemoryUploads(), LocalBlobStore(tmp_path)
    upload = _new(repo, blobs)
    upload = _send(repo, blobs, upload, b"hello")
    assert upload.offset == 5
    with pytest.raises(DomainError) as stale:
        up.check_append(upload, 0, 5)
    assert stale.value.code == ErrorCode.OFFSET_MISMATCH
    with pytest.raises(DomainError) as beyond:
        up.check_append(upload, 5, 7)
    assert beyond.value.code == ErrorCode.TOO_LARGE
    wrong = ("sha256", hashlib.sha256(b"other").digest())
    with pytest.raises(DomainError) as damaged:
        _send(repo, blobs, upload, b" world", wrong)
    assert damaged.value.code == ErrorCode.CHECKSUM_MISMATCH
    assert repo.rows[upload.id].offset == 5  # discarded
    right = ("sha1", hashlib.sha1(b" world").digest())
    done = _send(repo, blobs, repo.rows[upload.id], b" world", right)
    assert done.complete and done.sha256 == hashlib.sha256(b"hello world").hexdigest()
    assert b"".join(blobs.read(done.blob_key)) == b"hello world"
    assert blobs.partial_size(f"uploads/u{upload.id}") == 0


def test_bytes_stored_but_not_recorded_before_a_crash_count(tmp_path: Path) -> None:
    repo, blobs = MemoryUploads(), LocalBlobStore(tmp_path)
    upload = _new(repo, blobs)
    blobs.append(f"uploads/u{upload.id}", [b"hello"])  # the server died before recording
    assert _find(repo, blobs, upload.id).offset == 5
    blobs.append(f"uploads/u{upload.id}", [b" world"])
    found = _find(repo, blobs, upload.id)
    assert found.complete and found.sha256 == hashlib.sha256(b"hello world").hexdigest()


def test_other_users_expiry_and_the_sweep(tmp_path: Path) -> None:
    repo, blobs = MemoryUploads(), LocalBlobStore(tmp_path)
    upload = _send(repo, blobs, _new(repo, blobs), b"hello")
    for other in ({"membership_id": 8}, {"environment_id": 2}):
        with pytest.raises(DomainError) as hidden:
            _find(repo, blobs, upload.id, **other)
        assert hidden.value.code == ErrorCode.NOT_FOUND
    later = NOW + timedelta(hours=25)
    with pytest.raises(DomainError) as expired:
        _find(repo, blobs, upload.id, now=later)
    assert expired.value.code == ErrorCode.UPLOAD_EXPIRED
    assert repo.rows == {} and blobs.partial_size(f"uploads/u{upload.id}") == 0
    stale = _new(repo, blobs)
    _new(repo, blobs, now=later)
    assert stale.id not in repo.rows and len(repo.rows) == 1


def test_claiming_hands_each_finished_upload_over_once(tmp_path: Path) -> None:
    repo, blobs = MemoryUploads(), LocalBlobStore(tmp_path)
    done = _send(repo, blobs, _new(repo, blobs), b"hello world")
    partial = _send(repo, blobs, _new(repo, blobs), b"hello")
    refusals = [
        ([partial.id], 1, 7, ErrorCode.UPLOAD_INCOMPLETE),
        (["nope"], 1, 7, ErrorCode.NOT_FOUND),
        ([done.id], 1, 8, ErrorCode.NOT_FOUND),
        ([done.id, done.id], 1, 7, ErrorCode.VALIDATION_ERROR),
    ]
    for ids, env, member, code in refusals:
        with pytest.raises(DomainError) as refused:
            up.claim_completed(repo, env, member, ids, NOW)
        assert refused.value.code == code
    (claimed,) = up.claim_completed(repo, 1, 7, [done.id], NOW)
    assert claimed.size == 11 and claimed.filename == "a.txt"
    assert claimed.sha256 == hashlib.sha256(b"hello world").hexdigest()
    with pytest.raises(DomainError) as twice:
        up.claim_completed(repo, 1, 7, [done.id], NOW)
    assert twice.value.code == ErrorCode.NOT_FOUND
    # Claimed uploads belong to an item: never swept, never terminated.
    up.sweep_expired(repo, blobs, NOW + timedelta(days=30))
    assert done.id in repo.rows and blobs.size(claimed.blob_key) == 11
    with pytest.raises(DomainError):
        up.terminate(repo, blobs, repo.rows[done.id])
