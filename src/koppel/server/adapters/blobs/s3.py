"""Blobs in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW), through boto3.

Layout under ``s3://bucket/prefix/``:

- ``blobs/KEY``: a committed blob.
- ``partial/KEY``: the *record* of a partial blob. Its body is the tail (the bytes after
  the last uploaded part, always under the 5 MiB part minimum) and its metadata name the
  multipart upload and how many parts (and bytes) of it belong to the partial. It is
  rewritten once per request (``sync_partial``), so it is the one truth about what was
  acknowledged: a partial's size survives a restart and any replica can continue it.
- ``partial/KEY.parts``: the multipart upload that carries the partial's parts (5 MiB
  and more each, uploaded as they fill); an object only for a moment during ``commit``.

Why the tail lives in the bucket and not in a local buffer or the database: a tus PATCH
may be followed by the next one on another replica, and the tail is at most 5 MiB, which
is cheap to rewrite once per request and keeps the database free of file contents. While
a request streams, the tail grows in this process's memory (at most one part of 5 MiB
plus the piece at hand per upload); nothing is written to local disk.

A crash between uploading a part and rewriting the record loses nothing acknowledged:
parts beyond the record's count are ignored and overwritten by the next part of that
number. Multipart uploads that nobody completes are aborted by ``discard_partial``
(tus termination, expiry); the bucket's lifecycle rule for incomplete multipart uploads
is the safety net (docs/operations.md).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from koppel.server.domain.transfer.blobs import BlobNotFound

# S3's smallest part but the last; a part is uploaded as soon as this much is buffered.
PART_MINIMUM = 5 * 1024 * 1024
# What read() yields at a time (see adapters/blobs/local.py: one thread hop per chunk).
_CHUNK = 4 * 1024 * 1024
# CopyObject copies at most 5 GiB in one request; larger blobs are copied in parts.
_COPY_IN_ONE = 5 * 1024 * 1024 * 1024
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}(/[A-Za-z0-9][A-Za-z0-9._-]{0,127}){0,4}$")
_UPLOAD_ID = "koppel-upload-id"
_PARTS = "koppel-parts"
_PART_BYTES = "koppel-part-bytes"
_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchUpload"}


class S3UrlError(ValueError):
    """KOPPEL_BLOB_URL is not an ``s3://bucket/prefix`` address."""


def parse_blob_url(url: str) -> tuple[str, str]:
    """The bucket and the key prefix (empty or ending in ``/``) of ``s3://bucket/prefix``."""
    parsed = urlparse(url.strip())
    if parsed.scheme != "s3" or not parsed.netloc or parsed.query or parsed.fragment:
        raise S3UrlError(
            f"KOPPEL_BLOB_URL={url!r} is not an S3 address; write it as s3://bucket/prefix "
            "(the endpoint and credentials come from AWS_ENDPOINT_URL, AWS_REGION, "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)."
        )
    prefix = parsed.path.strip("/")
    return parsed.netloc, f"{prefix}/" if prefix else ""


def s3_client(*, quick: bool = False) -> Any:
    """A boto3 S3 client configured from the usual AWS variables. An endpoint of one's own
    (AWS_ENDPOINT_URL: MinIO, Ceph RGW) is addressed path-style, as those expect; ``quick``
    gives up after one short attempt (for /readyz)."""
    import boto3
    from botocore.config import Config

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    config = Config(
        region_name=region,
        s3={"addressing_style": "path"} if endpoint else {},
        # Requests of many upload threads at once share the pool.
        max_pool_connections=32,
        connect_timeout=2 if quick else 10,
        read_timeout=5 if quick else 60,
        retries={"max_attempts": 1 if quick else 4, "mode": "standard"},
    )
    return boto3.session.Session().client("s3", endpoint_url=endpoint or None, config=config)


def _missing(exc: Exception) -> bool:
    from botocore.exceptions import ClientError

    if not isinstance(exc, ClientError):
        return False
    error = exc.response.get("Error", {})
    status = str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
    return str(error.get("Code", "")) in _MISSING or status == "404"


@dataclass
class _Partial:
    """A partial blob as this process holds it while a request appends to it."""

    upload_id: str | None = None
    parts: int = 0
    part_bytes: int = 0
    tail: bytearray = field(default_factory=bytearray)
    dirty: bool = False
    recorded: bool = False  # a record object exists in the bucket

    @property
    def size(self) -> int:
        return self.part_bytes + len(self.tail)


class S3BlobStore:
    """A ``BlobStore`` in an S3-compatible bucket; partial blobs are multipart uploads."""

    def __init__(self, bucket: str, prefix: str = "", client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix
        # Made on first use: importing boto3 and making a client takes a good part of a
        # second, which a koppel-admin command that touches no file should not pay.
        self._made: Any = client
        # /readyz must answer quickly: its HeadBucket gives up after one short attempt.
        self._quick: Any = client
        self._lock = threading.Lock()
        # Partials appended to by a request of this process and not yet synced. The tus
        # lock makes one request at a time the writer of an upload.
        self._open: dict[str, _Partial] = {}

    @property
    def _client(self) -> Any:
        if self._made is None:
            with self._lock:
                if self._made is None:
                    self._made = s3_client()
        return self._made

    @classmethod
    def from_url(cls, url: str) -> S3BlobStore:
        """The store at ``s3://bucket/prefix`` (S3UrlError when malformed)."""
        bucket, prefix = parse_blob_url(url)
        return cls(bucket, prefix)

    # -- keys ---------------------------------------------------------------------------

    def _key(self, area: str, key: str) -> str:
        if not _KEY.match(key) or ".." in key:
            raise ValueError(f"unsafe blob key {key!r}")
        return f"{self.prefix}{area}/{key}"

    def _record_key(self, partial_key: str) -> str:
        return self._key("partial", partial_key)

    def _parts_key(self, partial_key: str) -> str:
        return self._key("partial", partial_key) + ".parts"

    # -- partial blobs ------------------------------------------------------------------

    def _load(self, partial_key: str) -> _Partial | None:
        """The partial as last synced (None when there is none)."""
        try:
            got = self._client.get_object(Bucket=self.bucket, Key=self._record_key(partial_key))
        except Exception as exc:
            if _missing(exc):
                return None
            raise
        meta = got.get("Metadata", {})
        with got["Body"] as body:
            tail = bytearray(body.read())
        return _Partial(
            upload_id=meta.get(_UPLOAD_ID) or None,
            parts=int(meta.get(_PARTS, "0")),
            part_bytes=int(meta.get(_PART_BYTES, "0")),
            tail=tail,
            recorded=True,
        )

    def append(self, partial_key: str, chunks: Iterable[bytes], *, sync: bool = True) -> int:
        with self._lock:
            partial = self._open.get(partial_key)
        if partial is None:
            partial = self._load(partial_key) or _Partial(dirty=True)
        try:
            for chunk in chunks:
                partial.dirty = True
                # Parts of exactly the minimum: never more than one part in memory, also
                # when a caller hands over a whole file at once.
                piece = memoryview(chunk)
                while piece:
                    room = PART_MINIMUM - len(partial.tail)
                    partial.tail += piece[:room]
                    piece = piece[room:]
                    if len(partial.tail) >= PART_MINIMUM:
                        self._upload_part(partial_key, partial)
        except BaseException:
            # Nothing of this call is acknowledged: forget it rather than keep a state
            # another replica may overtake.
            with self._lock:
                self._open.pop(partial_key, None)
            raise
        with self._lock:
            self._open[partial_key] = partial
        if sync:
            self.sync_partial(partial_key)
        return partial.size

    def _upload_part(self, partial_key: str, partial: _Partial) -> None:
        if partial.upload_id is None:
            started = self._client.create_multipart_upload(
                Bucket=self.bucket, Key=self._parts_key(partial_key)
            )
            partial.upload_id = started["UploadId"]
        number = partial.parts + 1
        self._client.upload_part(
            Bucket=self.bucket,
            Key=self._parts_key(partial_key),
            UploadId=partial.upload_id,
            PartNumber=number,
            Body=bytes(partial.tail),
        )
        partial.parts = number
        partial.part_bytes += len(partial.tail)
        partial.tail = bytearray()

    def sync_partial(self, partial_key: str) -> None:
        with self._lock:
            partial = self._open.pop(partial_key, None)
        if partial is not None and partial.dirty:
            self._write_record(partial_key, partial)

    def _write_record(self, partial_key: str, partial: _Partial) -> None:
        metadata = {_PARTS: str(partial.parts), _PART_BYTES: str(partial.part_bytes)}
        if partial.upload_id:
            metadata[_UPLOAD_ID] = partial.upload_id
        self._client.put_object(
            Bucket=self.bucket,
            Key=self._record_key(partial_key),
            Body=bytes(partial.tail),
            Metadata=metadata,
        )
        partial.dirty, partial.recorded = False, True

    def partial_size(self, partial_key: str) -> int:
        self.sync_partial(partial_key)  # appended bytes count, as a local file's would
        try:
            head = self._client.head_object(Bucket=self.bucket, Key=self._record_key(partial_key))
        except Exception as exc:
            if _missing(exc):
                return 0
            raise
        return int(head.get("Metadata", {}).get(_PART_BYTES, "0")) + int(head["ContentLength"])

    def discard_partial(self, partial_key: str) -> None:
        with self._lock:
            self._open.pop(partial_key, None)
        parts_key = self._parts_key(partial_key)
        # Every multipart upload of this partial, also one a crash left unrecorded.
        for upload_id in self._multipart_uploads(parts_key):
            self._abort(parts_key, upload_id)
        self._client.delete_object(Bucket=self.bucket, Key=parts_key)
        self._client.delete_object(Bucket=self.bucket, Key=self._record_key(partial_key))

    def _multipart_uploads(self, object_key: str) -> list[str]:
        found: list[str] = []
        paginator = self._client.get_paginator("list_multipart_uploads")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=object_key):
            found += [u["UploadId"] for u in page.get("Uploads", []) if u["Key"] == object_key]
        return found

    def _abort(self, object_key: str, upload_id: str) -> None:
        try:
            self._client.abort_multipart_upload(
                Bucket=self.bucket, Key=object_key, UploadId=upload_id
            )
        except Exception as exc:
            if not _missing(exc):
                raise

    def commit(self, partial_key: str, key: str) -> None:
        with self._lock:
            partial = self._open.pop(partial_key, None)
        if partial is None:
            partial = self._load(partial_key)
            if partial is None:
                raise BlobNotFound(partial_key)
        target = self._key("blobs", key)
        if partial.upload_id is None:
            # Under one part: the bytes are at hand, one PUT makes them the blob.
            self._client.put_object(Bucket=self.bucket, Key=target, Body=bytes(partial.tail))
        else:
            # A crash from here on leaves the record as last synced: a retry completes
            # (or finds completed) the upload and copies it, and an upload that was not
            # completed continues from the record's offset.
            parts_key = self._parts_key(partial_key)
            if self._complete(partial_key, partial) or self._exists(parts_key):
                self._copy(parts_key, target)
            elif not self._exists(target):
                raise BlobNotFound(partial_key)
            # else: a commit that crashed after its copy; only the record is left over.
            self._client.delete_object(Bucket=self.bucket, Key=parts_key)
        if partial.recorded:
            self._client.delete_object(Bucket=self.bucket, Key=self._record_key(partial_key))

    def _exists(self, object_key: str) -> bool:
        try:
            self.size_of(object_key)
        except BlobNotFound:
            return False
        return True

    def _complete(self, partial_key: str, partial: _Partial) -> bool:
        """CompleteMultipartUpload with the recorded parts and the tail as the last part;
        False when the upload is gone (a commit that crashed after completing it)."""
        parts_key = self._parts_key(partial_key)
        assert partial.upload_id is not None
        try:
            count = partial.parts
            if partial.tail:
                count += 1
                self._client.upload_part(
                    Bucket=self.bucket,
                    Key=parts_key,
                    UploadId=partial.upload_id,
                    PartNumber=count,
                    Body=bytes(partial.tail),
                )
            etags = self._etags(parts_key, partial.upload_id, count)
            self._client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=parts_key,
                UploadId=partial.upload_id,
                MultipartUpload={
                    "Parts": [{"PartNumber": n, "ETag": etags[n]} for n in range(1, count + 1)]
                },
            )
        except Exception as exc:
            if not _missing(exc):
                raise
            return False
        return True

    def _etags(self, parts_key: str, upload_id: str, count: int) -> dict[int, str]:
        etags: dict[int, str] = {}
        paginator = self._client.get_paginator("list_parts")
        for page in paginator.paginate(Bucket=self.bucket, Key=parts_key, UploadId=upload_id):
            for part in page.get("Parts", []):
                if part["PartNumber"] <= count:
                    etags[part["PartNumber"]] = part["ETag"]
        if len(etags) != count:
            raise RuntimeError(
                f"the multipart upload of {parts_key} lacks parts ({len(etags)} of {count})"
            )
        return etags

    def _copy(self, source: str, target: str) -> None:
        copy_source = {"Bucket": self.bucket, "Key": source}
        if self.size_of(source) < _COPY_IN_ONE:
            self._client.copy_object(Bucket=self.bucket, Key=target, CopySource=copy_source)
        else:
            self._client.copy(copy_source, self.bucket, target)

    # -- committed blobs ----------------------------------------------------------------

    def size_of(self, object_key: str) -> int:
        """The size of an object by its full key; BlobNotFound when absent."""
        try:
            head = self._client.head_object(Bucket=self.bucket, Key=object_key)
        except Exception as exc:
            if _missing(exc):
                raise BlobNotFound(object_key) from exc
            raise
        return int(head["ContentLength"])

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        object_key = self._key("blobs", key)
        if end is not None and end <= start:
            self.size(key)  # still BlobNotFound for a missing blob
            return
        wanted = f"bytes={start}-" + ("" if end is None else str(end - 1))
        try:
            got = self._client.get_object(
                Bucket=self.bucket, Key=object_key, **({"Range": wanted} if start or end else {})
            )
        except Exception as exc:
            if _missing(exc):
                raise BlobNotFound(key) from exc
            if "InvalidRange" in str(exc):  # starts beyond the end: no bytes, as a file
                return
            raise
        body = got["Body"]
        try:
            yield from body.iter_chunks(_CHUNK)
        finally:
            body.close()

    def local_path(self, key: str) -> Path | None:
        return None  # the object store sends nothing itself: downloads are streamed

    def size(self, key: str) -> int:
        try:
            return self.size_of(self._key("blobs", key))
        except BlobNotFound as exc:
            raise BlobNotFound(key) from exc

    def problem(self) -> str | None:
        """Why the bucket cannot be reached (HeadBucket), or None when it can."""
        if self._quick is None:
            self._quick = s3_client(quick=True)
        try:
            self._quick.head_bucket(Bucket=self.bucket)
        except Exception as exc:
            return f"the bucket {self.bucket} cannot be reached ({type(exc).__name__}: {exc})"[:300]
        return None

    def delete(self, key: str) -> None:
        self._client.delete_object(Bucket=self.bucket, Key=self._key("blobs", key))
