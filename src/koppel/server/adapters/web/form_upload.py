"""A portal form with one file: the shared streaming multipart reader
(``adapters/http/multipart_file.py``) with the portal's rules. The form's CSRF token must
come before the file (browsers send fields in page order; the templates put it first), so
no byte of a forged request is stored; the file's name and type are checked before its
first byte too. Nothing is kept on any refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from koppel.i18n import gettext as _
from koppel.protocol.errors import ErrorCode
from koppel.server.adapters.http.multipart_file import read_file_form
from koppel.server.adapters.web.context import CSRF_FIELD, CSRF_HEADER
from koppel.server.domain.errors import DomainError
from koppel.server.domain.transfer import extensions, uploads
from koppel.server.domain.transfer.blobs import BlobStore
from koppel.server.domain.transfer.extensions import Allowlist
from koppel.server.domain.transfer.incoming import IncomingFile

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
    header_token = request.headers.get(CSRF_HEADER)
    csrf_checked = False
    if header_token is not None:
        check_csrf(header_token)
        csrf_checked = True

    def accept(_field: str, name: str, fields: dict[str, str]) -> None:
        nonlocal csrf_checked
        if not csrf_checked:
            check_csrf(fields.get(CSRF_FIELD))
            csrf_checked = True
        if not name.strip():
            raise DomainError(ErrorCode.VALIDATION_ERROR, _("Choose a file to upload."))
        uploads.check_filename(name)
        extensions.check(allowed, name)

    incoming = IncomingFile(
        blobs, limits.max_bytes, lambda: uploads.too_large(limits, "The file"), "portal"
    )
    try:
        found = await read_file_form(
            request,
            incoming,
            accept,
            lambda length: uploads.too_large(limits, "The upload", length),
            limits.max_bytes,
        )
        if not csrf_checked:
            check_csrf(found.fields.get(CSRF_FIELD))
        if not found.has_file:
            raise DomainError(ErrorCode.VALIDATION_ERROR, _("Choose a file to upload."))
        if incoming.size == 0:
            raise DomainError(
                ErrorCode.EMPTY_FILE,
                _("The file {name} is empty; nothing was stored.").format(
                    name=repr(found.filename)
                ),
            )
        key = await run_in_threadpool(incoming.commit, folder)
    finally:
        await run_in_threadpool(incoming.discard)
    media_type = uploads.media_type_for(found.filename, found.media_type or None)
    return ReceivedForm(
        found.fields,
        ReceivedFile(found.filename, media_type, incoming.size, incoming.sha256, key),
    )
