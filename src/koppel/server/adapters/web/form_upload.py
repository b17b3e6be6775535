"""A portal form with one file (``multipart/form-data``), read as it arrives.

Starlette's ``request.form()`` would first spool the whole body (of any size) to disk;
here the declared ``Content-Length`` is checked before any byte is read, and the file's
bytes go straight to a partial blob while they are counted, so a client that declares
less than it sends is stopped at the limit too. The form's CSRF token must come before
the file (browsers send fields in page order; the templates put it first), so no byte
of a forged request is stored. Nothing is kept on any refusal.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from fastapi import Request
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from koppel.protocol.errors import ErrorCode
from koppel.server.adapters.web.context import CSRF_FIELD, CSRF_HEADER
from koppel.server.domain.errors import DomainError
from koppel.server.domain.transfer import extensions, uploads
from koppel.server.domain.transfer.blobs import BlobStore
from koppel.server.domain.transfer.extensions import Allowlist

# Room in the body for the form's other fields and the multipart framing.
FIELDS_ALLOWANCE = 64 * 1024
# Bytes gathered from the request before the parser (and the blob store) gets them.
_FEED_BYTES = 1024 * 1024
# After a refusal the rest of the body is read and dropped for at most this long, so that
# the browser, still sending, receives the explanation instead of a broken connection.
_LINGER_SECONDS = 10.0

CheckCsrf = Callable[[str | None], None]


@dataclass
class ReceivedFile:
    """The form's file, committed to the blob store (``uploads.CompletedUpload``'s
    fields, so the dossier takes it as a stored file)."""

    filename: str
    media_type: str
    size: int
    sha256: str
    blob_key: str


@dataclass
class ReceivedForm:
    """The form's text fields and its file (committed; delete it if not used)."""

    fields: dict[str, str]
    file: ReceivedFile


@dataclass
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    name: str = ""
    filename: str | None = None
    value: bytearray = field(default_factory=bytearray)


class _Receiver:
    """The parser's callbacks: fields into memory (bounded), the file into a blob."""

    def __init__(self, blobs: BlobStore, limits: uploads.UploadLimits, allowed: Allowlist,
                 check_csrf: CheckCsrf, csrf_checked: bool) -> None:  # fmt: skip
        self.blobs, self.limits, self.check_csrf = blobs, limits, check_csrf
        self.allowed = allowed
        self.csrf_checked = csrf_checked
        self.partial = f"portal-{uuid.uuid4().hex}"
        self.fields: dict[str, str] = {}
        self.field_bytes = 0
        self.part = _Part()
        self.header_field = bytearray()
        self.header_value = bytearray()
        self.file: _Part | None = None
        self.size = 0
        self.digest = hashlib.sha256()
        self.media_type = uploads.DEFAULT_MEDIA_TYPE

    # --- python-multipart callbacks (they raise DomainError to stop the parse)
    def on_part_begin(self) -> None:
        self.part = _Part()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.part.headers[bytes(self.header_field).lower()] = bytes(self.header_value)
        self.header_field.clear()
        self.header_value.clear()

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.part.headers.get(b"content-disposition", b""))
        self.part.name = options.get(b"name", b"").decode("utf-8", "replace")
        raw = options.get(b"filename")
        if raw is None:
            return
        if self.file is not None:
            raise DomainError(ErrorCode.VALIDATION_ERROR, "Send one file at a time.")
        if not self.csrf_checked:
            # The token must precede the file: nothing of a forged request is stored.
            self.check_csrf(self.fields.get(CSRF_FIELD))
            self.csrf_checked = True
        name = raw.decode("utf-8", "replace")
        if not name.strip():
            raise DomainError(ErrorCode.VALIDATION_ERROR, "Choose a file to upload.")
        uploads.check_filename(name)
        extensions.check(self.allowed, name)
        self.part.filename = name
        given = self.part.headers.get(b"content-type", b"").decode("latin-1")
        self.media_type = uploads.media_type_for(name, given or None)
        self.file = self.part

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        piece = data[start:end]
        if self.part.filename is None:
            self.field_bytes += len(piece)
            if self.field_bytes > FIELDS_ALLOWANCE:
                raise DomainError(ErrorCode.VALIDATION_ERROR, "The form's fields are too long.")
            self.part.value += piece
            return
        self.size += len(piece)
        if self.size > self.limits.max_bytes:
            raise uploads.too_large(self.limits, "The file")
        self.digest.update(piece)
        self.blobs.append(self.partial, [piece], sync=False)

    def on_part_end(self) -> None:
        if self.part.filename is None and self.part.name:
            self.fields[self.part.name] = self.part.value.decode("utf-8", "replace")


async def _linger(body: AsyncIterator[bytes]) -> None:
    async def drain() -> None:
        async for _ in body:
            pass

    with contextlib.suppress(TimeoutError, ClientDisconnect):
        await asyncio.wait_for(drain(), _LINGER_SECONDS)


async def receive_form(
    request: Request,
    blobs: BlobStore,
    limits: uploads.UploadLimits,
    allowed: Allowlist,
    check_csrf: CheckCsrf,
    folder: str = "portal",
) -> ReceivedForm:
    """Read a multipart form with exactly one file into the blob store (committed under
    ``folder/...``); every refusal (too large, empty, unsafe name, a file type the
    environment does not accept, CSRF) comes before the file's first byte is stored, or
    keeps nothing."""
    body = request.stream()
    try:
        content_type, options = parse_options_header(request.headers.get("content-type", ""))
        boundary = options.get(b"boundary")
        if content_type != b"multipart/form-data" or not boundary:
            raise DomainError(
                ErrorCode.VALIDATION_ERROR, "Send the form as multipart/form-data with a file."
            )
        declared = request.headers.get("content-length", "")
        length = int(declared) if declared.isdigit() else 0
        if length > limits.max_bytes + FIELDS_ALLOWANCE:
            raise uploads.too_large(limits, "The upload", length)
        header_token = request.headers.get(CSRF_HEADER)
        if header_token is not None:
            check_csrf(header_token)
        receiver = _Receiver(blobs, limits, allowed, check_csrf, header_token is not None)
        return await _parse(body, receiver, boundary, blobs, folder)
    except DomainError:
        await _linger(body)
        raise


async def _parse(body: AsyncIterator[bytes], receiver: _Receiver, boundary: bytes,
                 blobs: BlobStore, folder: str) -> ReceivedForm:  # fmt: skip
    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": receiver.on_part_begin,
            "on_header_field": receiver.on_header_field,
            "on_header_value": receiver.on_header_value,
            "on_header_end": receiver.on_header_end,
            "on_headers_finished": receiver.on_headers_finished,
            "on_part_data": receiver.on_part_data,
            "on_part_end": receiver.on_part_end,
        },
    )
    try:
        pending = bytearray()
        async for chunk in body:
            pending += chunk
            if len(pending) >= _FEED_BYTES:
                await run_in_threadpool(parser.write, bytes(pending))
                pending.clear()
        if pending:
            await run_in_threadpool(parser.write, bytes(pending))
        parser.finalize()
        if not receiver.csrf_checked:
            receiver.check_csrf(receiver.fields.get(CSRF_FIELD))
        found = receiver.file
        if found is None or found.filename is None:
            raise DomainError(ErrorCode.VALIDATION_ERROR, "Choose a file to upload.")
        if receiver.size == 0:
            raise DomainError(
                ErrorCode.EMPTY_FILE, f"The file {found.filename!r} is empty; nothing was stored."
            )
        key = f"{folder}/{uuid.uuid4().hex}"
        await run_in_threadpool(blobs.sync_partial, receiver.partial)
        await run_in_threadpool(blobs.commit, receiver.partial, key)
    finally:
        await run_in_threadpool(blobs.discard_partial, receiver.partial)
    return ReceivedForm(
        receiver.fields,
        ReceivedFile(
            found.filename, receiver.media_type, receiver.size, receiver.digest.hexdigest(), key
        ),
    )
