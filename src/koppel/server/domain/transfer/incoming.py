"""One file's bytes arriving in pieces (a request body, a form's file part): counted
against the server's limit, hashed, and appended to a partial blob, then committed under
a key or discarded. Only the piece at hand is in memory."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable

from koppel.server.domain.errors import DomainError
from koppel.server.domain.transfer.blobs import BlobStore

TooLarge = Callable[[], DomainError]


class IncomingFile:
    """The partial blob of one file being received."""

    def __init__(self, blobs: BlobStore, max_bytes: int, too_large: TooLarge, prefix: str):
        self._blobs = blobs
        self._max_bytes = max_bytes
        self._too_large = too_large
        self._digest = hashlib.sha256()
        self.partial = f"{prefix}-{uuid.uuid4().hex}"
        self.size = 0

    def feed(self, *pieces: bytes) -> None:
        """Store the next pieces; past the limit, refuse (``too_large``) and store none."""
        size = sum(len(piece) for piece in pieces)
        if self.size + size > self._max_bytes:
            raise self._too_large()
        for piece in pieces:
            self._digest.update(piece)
        # Durable only at commit: one fsync per file, not per piece.
        self._blobs.append(self.partial, pieces, sync=False)
        self.size += size

    @property
    def sha256(self) -> str:
        """The hex SHA-256 of the bytes received so far."""
        return self._digest.hexdigest()

    def commit(self, folder: str) -> str:
        """Make the file durable and visible under a new key in ``folder``; the key."""
        key = f"{folder}/{uuid.uuid4().hex}"
        self._blobs.commit(self.partial, key)
        return key

    def discard(self) -> None:
        """Forget whatever was received and not committed (nothing when committed)."""
        self._blobs.discard_partial(self.partial)
