"""Writing a download to disk while its SHA-256 is computed beside it.

Hashing 75 MB costs about as much as receiving it, so a second thread hashes the chunks
(hashlib releases the GIL) while the receiving thread writes them. On Linux the written
pages are handed to the disk every few megabytes, so the final fsync has little left to
do instead of flushing the whole file at once.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

_WRITEBACK_BYTES = 8 * 1024 * 1024


class VerifiedWriter:
    """``with VerifiedWriter(handle) as out: out.write(chunk) ...; out.hexdigest()``."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.size = 0
        self._digest = hashlib.sha256()
        self._chunks: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._hash, name="sha256", daemon=True)
        self._handed_over = 0
        self._done = False

    def __enter__(self) -> VerifiedWriter:
        self._thread.start()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self._finish()

    def _hash(self) -> None:
        while (chunk := self._chunks.get()) is not None:
            self._digest.update(chunk)

    def write(self, chunk: bytes) -> None:
        """Write a chunk and queue it for hashing."""
        self.handle.write(chunk)
        self._chunks.put(chunk)
        self.size += len(chunk)
        if self.size - self._handed_over >= _WRITEBACK_BYTES and hasattr(os, "posix_fadvise"):
            # DONTNEED starts the writeback of these (now written) pages without waiting.
            self.handle.flush()
            os.posix_fadvise(
                self.handle.fileno(),
                self._handed_over,
                self.size - self._handed_over,
                os.POSIX_FADV_DONTNEED,
            )
            self._handed_over = self.size

    def _finish(self) -> None:
        if not self._done:
            self._done = True
            self._chunks.put(None)
            self._thread.join()

    def hexdigest(self) -> str:
        """The SHA-256 of everything written (waits for the hashing thread)."""
        self._finish()
        return self._digest.hexdigest()


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
