"""Resumable uploads (tus): create, receive chunks at an offset, complete, expire, claim.

The domain keeps the rules; the HTTP adapter only translates tus headers. Bytes go to the
blob store under a *partial* key while they arrive and are committed to the final key
once the declared length is reached, so a completed upload is never seen half-written.
The partial blob's size is the truth about what arrived (it is fsynced before an offset
is acknowledged), so a crash between writing and recording loses nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import mimetypes
import re
import secrets
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import IO, Any, Protocol

from koppel.i18n import N_
from koppel.i18n import gettext as _
from koppel.protocol.errors import ErrorCode
from koppel.protocol.filenames import unsafe_reason
from koppel.protocol.sizes import byte_count, format_size, format_size_exact
from koppel.server.domain.errors import DomainError
from koppel.server.domain.transfer.blobs import BlobNotFound, BlobStore
from koppel.server.domain.transfer.extensions import Allowlist
from koppel.server.domain.transfer.extensions import check as check_extension

_SPOOL_IN_MEMORY = 1024 * 1024
_COPY_CHUNK = 1024 * 1024
_MEDIA_TYPE = re.compile(r"^[A-Za-z0-9][\w.+-]*/[A-Za-z0-9][\w.+-]*$")
DEFAULT_MEDIA_TYPE = "application/octet-stream"
CHECKSUM_ALGORITHMS = ("sha1", "sha256")
SWEEP_BATCH = 20


@dataclass(frozen=True)
class Upload:
    """One upload as recorded."""

    id: str
    environment_id: int
    membership_id: int
    filename: str
    media_type: str
    declared_length: int
    offset: int
    created_at: datetime
    expires_at: datetime
    blob_key: str
    completed_at: datetime | None = None
    sha256: str | None = None
    claimed_at: datetime | None = None

    @property
    def complete(self) -> bool:
        """Whether every declared byte arrived and the blob is committed."""
        return self.completed_at is not None

    def expired(self, now: datetime) -> bool:
        """Whether the upload may no longer be continued or claimed."""
        return self.claimed_at is None and now >= self.expires_at


@dataclass(frozen=True)
class CompletedUpload:
    """A finished upload handed to the dossier (``blob_key`` is a committed blob)."""

    upload_id: str
    filename: str
    media_type: str
    size: int
    sha256: str
    blob_key: str


@dataclass(frozen=True)
class UploadLimits:
    """The server's settings for uploads."""

    max_bytes: int
    expiry: timedelta

    @property
    def max_size(self) -> str:
        """The limit as Windows Explorer shows sizes ("75.0 MB"; see protocol.sizes)."""
        return format_size(self.max_bytes)


class UploadRepository(Protocol):
    """Storage of upload records."""

    def add(self, upload: Upload) -> None:
        """Record a new upload."""
        ...

    def get(self, upload_id: str) -> Upload | None:
        """The upload, or None."""
        ...

    def set_offset(self, upload_id: str, offset: int) -> None:
        """Record how many bytes arrived."""
        ...

    def set_completed(self, upload_id: str, sha256: str, blob_key: str, at: datetime) -> None:
        """Record a completed upload and its committed blob."""
        ...

    def mark_claimed(self, upload_id: str, at: datetime) -> bool:
        """Mark an unclaimed upload claimed; False when it already was."""
        ...

    def claim_writer(self, upload_id: str, writer: str, now: datetime, until: datetime) -> bool:
        """Make ``writer`` the one request that appends to the upload until ``until``
        (renewed by claiming again), unless another writer holds it beyond ``now``;
        whether ``writer`` holds it. Atomic across processes sharing the store."""
        ...

    def release_writer(self, upload_id: str, writer: str) -> None:
        """Let the upload go, if ``writer`` still holds it."""
        ...

    def delete(self, upload_id: str) -> None:
        """Forget an upload."""
        ...

    def expired(self, now: datetime, limit: int) -> list[Upload]:
        """Up to ``limit`` unclaimed uploads whose expiry has passed."""
        ...


def new_upload_id() -> str:
    """A random, url-safe upload id (the upload URL is its only credential besides the token)."""
    return secrets.token_urlsafe(24)


def _partial_key(upload_id: str) -> str:
    return f"uploads/u{upload_id}"


def _final_key(upload_id: str) -> str:
    return f"uploads/f{upload_id}"


def media_type_for(filename: str, given: str | None) -> str:
    """The stated media type when well-formed, else a guess from the name."""
    if given and len(given) <= 200 and _MEDIA_TYPE.match(given.strip()):
        return given.strip().lower()
    guessed, _ = mimetypes.guess_type(filename, strict=False)
    return guessed or DEFAULT_MEDIA_TYPE


def check_filename(filename: str) -> None:
    """Refuse unsafe file names (the rules of :mod:`koppel.protocol.filenames`)."""
    reason = unsafe_reason(filename)
    if reason:
        raise DomainError(
            ErrorCode.UNSAFE_NAME,
            _("The file name {filename!r} cannot be used: {reason}.").format(
                filename=filename, reason=reason
            ),
        )


# What ``too_large`` may be told is too large (marked for translation).
_WHAT = (N_("The file"), N_("The upload"))


def too_large(limits: UploadLimits, what: str, size: int | None = None) -> DomainError:
    """The refusal of anything beyond the upload limit; ``size`` when it is known. Sizes
    with their exact bytes: a file just above the limit shows as "75.0 MB" too."""
    # ``what`` is one of _WHAT's phrases (English, as callers name it), translated here.
    shown = (
        _(what)
        if size is None
        else _("{what} ({size})").format(what=_(what), size=format_size_exact(size))
    )
    return DomainError(
        ErrorCode.TOO_LARGE,
        _("{shown} is larger than this server accepts: at most {limit} per file.").format(
            shown=shown, limit=format_size_exact(limits.max_bytes)
        ),
    )


def sweep_expired(uploads: UploadRepository, blobs: BlobStore, now: datetime) -> int:
    """Delete a few expired, unclaimed uploads and their bytes (cheap: one small batch)."""
    found = uploads.expired(now, SWEEP_BATCH)
    for upload in found:
        _remove(uploads, blobs, upload)
    return len(found)


def _remove(uploads: UploadRepository, blobs: BlobStore, upload: Upload) -> None:
    blobs.discard_partial(_partial_key(upload.id))
    if upload.complete and upload.claimed_at is None:
        blobs.delete(upload.blob_key)
    uploads.delete(upload.id)


def create(
    uploads: UploadRepository,
    blobs: BlobStore,
    limits: UploadLimits,
    *,
    environment_id: int,
    membership_id: int,
    filename: str | None,
    media_type: str | None,
    length: int,
    now: datetime,
    allowed: Allowlist,
) -> Upload:
    """Create an upload of ``length`` bytes; every refusal comes before any byte (a file
    type the environment does not accept, ``allowed``, included)."""
    sweep_expired(uploads, blobs, now)
    if length < 0:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Upload-Length must not be negative."))
    if length > limits.max_bytes:
        raise too_large(limits, "The file", length)
    if filename is None:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            _("State the file name in Upload-Metadata (key 'filename', base64)."),
        )
    check_filename(filename)
    check_extension(allowed, filename)
    if length == 0:
        raise DomainError(
            ErrorCode.EMPTY_FILE, _("The file {filename!r} is empty.").format(filename=filename)
        )
    upload_id = new_upload_id()
    upload = Upload(
        id=upload_id,
        environment_id=environment_id,
        membership_id=membership_id,
        filename=filename,
        media_type=media_type_for(filename, media_type),
        declared_length=length,
        offset=0,
        created_at=now,
        expires_at=now + limits.expiry,
        blob_key=_partial_key(upload_id),
    )
    uploads.add(upload)
    return upload


def find(
    uploads: UploadRepository,
    blobs: BlobStore,
    upload_id: str,
    *,
    environment_id: int,
    membership_id: int,
    now: datetime,
) -> Upload:
    """The caller's upload, reconciled with the bytes the blob store holds.

    Other users' uploads are reported as unknown. An expired upload is removed when
    touched and refused with ``upload_expired``.
    """
    upload = uploads.get(upload_id)
    if (
        upload is None
        or upload.environment_id != environment_id
        or upload.membership_id != membership_id
    ):
        raise DomainError(
            ErrorCode.NOT_FOUND,
            _("There is no upload {upload_id} of yours.").format(upload_id=upload_id),
        )
    if upload.expired(now):
        _remove(uploads, blobs, upload)
        raise DomainError(
            ErrorCode.UPLOAD_EXPIRED,
            _(
                "The upload {upload_id} expired (unfinished uploads are kept until "
                "{expires_at:%Y-%m-%d %H:%M} UTC); start it again."
            ).format(upload_id=upload_id, expires_at=upload.expires_at),
        )
    if upload.complete:
        return upload
    stored = blobs.partial_size(_partial_key(upload_id))
    if stored == 0 and _committed_size(blobs, upload.id) == upload.declared_length:
        # A crash after the commit but before the row said so: finish the bookkeeping.
        stored = upload.declared_length
    if stored != upload.offset:
        # Bytes fsynced before a crash but never recorded: they are real and in order.
        stored = min(stored, upload.declared_length)
        uploads.set_offset(upload_id, stored)
        upload = replace(upload, offset=stored)
    if upload.offset == upload.declared_length:
        upload = _complete(uploads, blobs, upload, now)
    return upload


def check_append(upload: Upload, offset: int, length: int | None) -> None:
    """Refuse a chunk at the wrong offset, or one that would go beyond the declared length."""
    if upload.complete:
        raise DomainError(
            ErrorCode.OFFSET_MISMATCH,
            _("The upload {upload_id} is already complete ({size}).").format(
                upload_id=upload.id, size=byte_count(upload.declared_length)
            ),
        )
    if offset != upload.offset:
        raise DomainError(
            ErrorCode.OFFSET_MISMATCH,
            _(
                "The upload {upload_id} is at offset {offset}, not {asked}; ask for the offset "
                "(HEAD) and continue from there."
            ).format(upload_id=upload.id, offset=upload.offset, asked=offset),
        )
    if length is not None and offset + length > upload.declared_length:
        raise DomainError(
            ErrorCode.TOO_LARGE,
            _("The chunk would end at byte {end:,}, beyond the declared length of {size}.").format(
                end=offset + length, size=byte_count(upload.declared_length)
            ),
        )


def parse_checksum(header: str | None) -> tuple[str, bytes] | None:
    """The (algorithm, digest) of an ``Upload-Checksum`` header."""
    if header is None:
        return None
    parts = header.strip().split(" ")
    if len(parts) != 2 or parts[0].lower() not in CHECKSUM_ALGORITHMS:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            _(
                "Upload-Checksum must be '<algorithm> <base64 digest>' with algorithm {algorithms}."
            ).format(algorithms=" or ".join(CHECKSUM_ALGORITHMS)),
        )
    try:
        digest = base64.b64decode(parts[1], validate=True)
    except ValueError as exc:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR, _("The Upload-Checksum digest is not valid base64.")
        ) from exc
    return parts[0].lower(), digest


class _RunningDigests:
    """The sha256 of each upload's bytes so far, kept while this process receives them,
    so that completing a 75 MB upload does not read it all back. A cache only: after a
    restart (or another replica's PATCH) the digest is computed from the blob instead."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._digests: dict[str, tuple[int, Any]] = {}

    def take(self, upload_id: str, offset: int) -> Any:
        """The running digest at ``offset`` (a fresh one at 0), or None when unknown."""
        with self._lock:
            found = self._digests.pop(upload_id, None)
        if found is not None and found[0] == offset:
            return found[1]
        return hashlib.sha256() if offset == 0 else None

    def put(self, upload_id: str, offset: int, digest: Any) -> None:
        """Keep the digest of the first ``offset`` bytes."""
        with self._lock:
            self._digests[upload_id] = (offset, digest)

    def pop(self, upload_id: str, length: int) -> str | None:
        """The finished hex digest when it covers exactly ``length`` bytes."""
        with self._lock:
            found = self._digests.pop(upload_id, None)
        return found[1].hexdigest() if found is not None and found[0] == length else None


_RUNNING = _RunningDigests()


class ChunkReceiver:
    """Receives one PATCH body piece by piece, never holding more than a piece in memory.

    Without a checksum, pieces go straight to the partial blob (an interrupted request
    keeps what arrived). With one, the chunk is spooled (memory, then disk) and appended
    only when its digest matches, so a mismatching chunk changes nothing.
    """

    def __init__(self, blobs: BlobStore, upload: Upload, checksum: tuple[str, bytes] | None):
        self._blobs = blobs
        self._key = _partial_key(upload.id)
        self._room = upload.declared_length - upload.offset
        self._checksum = checksum
        self._hasher = hashlib.new(checksum[0]) if checksum else None
        self._spool: IO[bytes] | None = (
            # Closed in finish()/abandon(): it outlives this call by design.
            tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115
            if checksum
            else None
        )
        self.received = 0
        self.overflow = False
        self._upload_id = upload.id
        self._start = upload.offset
        self._running = _RUNNING.take(upload.id, upload.offset)

    def feed(self, *pieces: bytes) -> None:
        """Take the next pieces; bytes beyond the declared length are refused, not stored.

        Several pieces at once let the caller hand over what it gathered without joining
        it first (a 75 MB body would otherwise be copied twice more)."""
        size = sum(len(piece) for piece in pieces)
        if self.overflow or size > self._room - self.received:
            # The pieces that cross the declared length are not stored at all.
            self.overflow = True
            return
        if not size:
            return
        if self._spool is not None and self._hasher is not None:
            for piece in pieces:
                self._hasher.update(piece)
                self._spool.write(piece)
        else:
            self._blobs.append(self._key, pieces, sync=False)
            if self._running is not None:
                for piece in pieces:
                    self._running.update(piece)
        self.received += size

    def finish(self) -> None:
        """Verify the checksum (if any) and append the spooled chunk; refuse overflow."""
        try:
            if self.overflow:
                # A spooled (checksummed) chunk is dropped whole; unchecked bytes before
                # the overflowing piece were in order and stay, as after an interruption.
                raise DomainError(
                    ErrorCode.TOO_LARGE,
                    _("The request carried more bytes than the upload's declared length."),
                )
            if self._spool is None or self._hasher is None or self._checksum is None:
                self._sync()
                return
            if not hmac.compare_digest(self._hasher.digest(), self._checksum[1]):
                self.received = 0
                raise DomainError(
                    ErrorCode.CHECKSUM_MISMATCH,
                    _(
                        "The chunk's {algorithm} checksum does not match; it was discarded. "
                        "Send it again."
                    ).format(algorithm=self._checksum[0]),
                )
            self._spool.seek(0)
            self._blobs.append(self._key, _pieces(self._spool, self._running))
            self._sync()
        finally:
            self.close()

    def _sync(self) -> None:
        # One fsync per request: the offset answered to the client must survive a crash.
        self._blobs.sync_partial(self._key)
        if self._running is not None:
            _RUNNING.put(self._upload_id, self._start + self.received, self._running)

    def abandon(self) -> None:
        """The request broke off: a checksummed chunk is incomplete and dropped."""
        if self._spool is not None:
            self.received = 0
        else:
            self._sync()  # what arrived before the break is kept, as tus wants
        self.close()

    def close(self) -> None:
        """Release the spool."""
        if self._spool is not None:
            self._spool.close()
            self._spool = None


def _pieces(handle: IO[bytes], running: Any = None) -> Iterator[bytes]:
    while True:
        piece = handle.read(_COPY_CHUNK)
        if not piece:
            return
        if running is not None:
            running.update(piece)
        yield piece


def record_progress(
    uploads: UploadRepository, blobs: BlobStore, upload: Upload, now: datetime
) -> Upload:
    """Record the bytes now stored; complete the upload when all declared bytes are in."""
    current = uploads.get(upload.id)
    if current is None or current.complete:
        # Completed meanwhile (a HEAD saw the last byte land first) or terminated.
        return current or upload
    stored = min(blobs.partial_size(_partial_key(upload.id)), upload.declared_length)
    uploads.set_offset(upload.id, stored)
    upload = replace(upload, offset=stored)
    if stored == upload.declared_length:
        upload = _complete(uploads, blobs, upload, now)
    return upload


def _complete(uploads: UploadRepository, blobs: BlobStore, upload: Upload, now: datetime) -> Upload:
    final = _final_key(upload.id)
    # Commit first (atomic rename), then hash the committed blob: the dossier only ever
    # sees the final key, and only once this row says completed.
    if blobs.partial_size(_partial_key(upload.id)) or _committed_size(blobs, upload.id) is None:
        blobs.commit(_partial_key(upload.id), final)
    sha256 = _RUNNING.pop(upload.id, upload.declared_length)
    if sha256 is None:
        digest = hashlib.sha256()
        for piece in blobs.read(final):
            digest.update(piece)
        sha256 = digest.hexdigest()
    uploads.set_completed(upload.id, sha256, final, now)
    return replace(upload, completed_at=now, sha256=sha256, blob_key=final)


def _committed_size(blobs: BlobStore, upload_id: str) -> int | None:
    try:
        return blobs.size(_final_key(upload_id))
    except BlobNotFound:
        return None


def terminate(uploads: UploadRepository, blobs: BlobStore, upload: Upload) -> None:
    """Delete an upload and its bytes (tus termination); claimed ones belong to an item."""
    if upload.claimed_at is not None:
        raise DomainError(
            ErrorCode.NOT_FOUND,
            _("The upload {upload_id} is already part of an item; it cannot be deleted.").format(
                upload_id=upload.id
            ),
        )
    _remove(uploads, blobs, upload)


def claim_completed(
    uploads: UploadRepository,
    environment_id: int,
    membership_id: int,
    upload_ids: Sequence[str],
    now: datetime | None = None,
) -> list[CompletedUpload]:
    """Hand completed uploads of this user to the dossier, each exactly once.

    Refuses unknown, other users', already claimed (``not_found``), expired
    (``upload_expired``) and unfinished (``upload_incomplete``) uploads; marks them claimed
    in the caller's transaction so a refusal later in it undoes the claims.
    """
    moment = now or datetime.now(UTC)
    if len(set(upload_ids)) != len(upload_ids):
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("An upload is listed more than once."))
    claimed: list[CompletedUpload] = []
    for upload_id in upload_ids:
        upload = uploads.get(upload_id)
        if (
            upload is None
            or upload.environment_id != environment_id
            or upload.membership_id != membership_id
        ):
            raise DomainError(
                ErrorCode.NOT_FOUND,
                _("There is no upload {upload_id} of yours.").format(upload_id=upload_id),
            )
        if upload.claimed_at is not None:
            raise DomainError(
                ErrorCode.NOT_FOUND,
                _("The upload {upload_id} is already part of an item.").format(upload_id=upload_id),
            )
        if upload.expired(moment):
            raise DomainError(
                ErrorCode.UPLOAD_EXPIRED,
                _("The upload {upload_id} expired; send the file again.").format(
                    upload_id=upload_id
                ),
            )
        if not upload.complete or upload.sha256 is None:
            raise DomainError(
                ErrorCode.UPLOAD_INCOMPLETE,
                _(
                    "The upload {upload_id} ({filename}) has {offset:,} of {size}; finish it first."
                ).format(
                    upload_id=upload_id,
                    filename=upload.filename,
                    offset=upload.offset,
                    size=byte_count(upload.declared_length),
                ),
            )
        if not uploads.mark_claimed(upload_id, moment):
            raise DomainError(
                ErrorCode.NOT_FOUND,
                _("The upload {upload_id} is already part of an item.").format(upload_id=upload_id),
            )
        claimed.append(
            CompletedUpload(
                upload_id=upload.id,
                filename=upload.filename,
                media_type=upload.media_type,
                size=upload.declared_length,
                sha256=upload.sha256,
                blob_key=upload.blob_key,
            )
        )
    return claimed
