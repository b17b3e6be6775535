"""What the domain needs from a file-content store (local folder now, S3 later).

Contents are written under a *partial* key that grows by appends (resumable uploads)
and become visible under their final key only by ``commit``: never half-written.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Protocol


class BlobNotFound(KeyError):
    """No blob (or partial blob) under that key."""


class BlobStore(Protocol):
    """Durable storage of file contents by key."""

    def append(self, partial_key: str, chunks: Iterable[bytes], *, sync: bool = True) -> int:
        """Append to a partial blob (created when absent); return its new size.

        With ``sync=False`` the bytes may not survive a crash until ``sync_partial``:
        a caller streaming one request appends piece by piece and syncs once.
        """
        ...

    def sync_partial(self, partial_key: str) -> None:
        """Make everything appended to a partial blob durable."""
        ...

    def partial_size(self, partial_key: str) -> int:
        """How many bytes a partial blob holds (0 when absent)."""
        ...

    def discard_partial(self, partial_key: str) -> None:
        """Delete a partial blob; nothing when absent."""
        ...

    def commit(self, partial_key: str, key: str) -> None:
        """Make a partial blob durable and visible under ``key`` in one step."""
        ...

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Stream bytes ``start`` up to (not including) ``end`` of a committed blob."""
        ...

    def size(self, key: str) -> int:
        """The size of a committed blob; BlobNotFound when absent."""
        ...

    def local_path(self, key: str) -> Path | None:
        """The file of a committed blob on this server's disk, which the server may send
        itself; None when blobs are not files here (or this one is missing)."""
        ...

    def problem(self) -> str | None:
        """Why this store cannot take and give blobs now (None: it can)."""
        ...

    def delete(self, key: str) -> None:
        """Delete a committed blob; nothing when absent."""
        ...
