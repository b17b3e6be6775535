"""Blobs as files under one folder: partial blobs in ``partial/``, committed in ``blobs/``.

Folders are created 0700 and files 0600 (``private_files``): contents of a client's
dossier are readable by the server's own OS user only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from koppel.server.adapters.blobs.group_sync import GroupSync
from koppel.server.adapters.private_files import make_dir, open_private
from koppel.server.domain.transfer.blobs import BlobNotFound

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}(/[A-Za-z0-9][A-Za-z0-9._-]{0,127}){0,4}$")
# What read() yields at a time: each chunk of a download is one hop to a worker thread and
# back (Starlette iterates a blocking body in threads); 4 MiB makes a 75 MB download 19
# hops instead of 75 (about 10 ms less server CPU in bench/breakdown.py's download).
_CHUNK = 4 * 1024 * 1024


class LocalBlobStore:
    """A ``BlobStore`` in a local folder (the embedded default)."""

    def __init__(self, root: Path, folder_sync: GroupSync | None = None) -> None:
        self.root = root
        # Uploads completing together share the fsync of the folder they are renamed into.
        self._folder_sync = folder_sync or GroupSync()
        make_dir(root / "partial")
        make_dir(root / "blobs")

    def _path(self, area: str, key: str) -> Path:
        if not _KEY.match(key) or ".." in key:
            raise ValueError(f"unsafe blob key {key!r}")
        return self.root / area / key

    def append(self, partial_key: str, chunks: Iterable[bytes], *, sync: bool = True) -> int:
        path = self._path("partial", partial_key)
        make_dir(path.parent)
        fd = open_private(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        with os.fdopen(fd, "ab") as out:
            for chunk in chunks:
                out.write(chunk)
            out.flush()
            if sync:
                os.fsync(out.fileno())  # an acknowledged offset must survive a crash
            return out.tell()

    def sync_partial(self, partial_key: str) -> None:
        path = self._path("partial", partial_key)
        if path.exists():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def partial_size(self, partial_key: str) -> int:
        path = self._path("partial", partial_key)
        return path.stat().st_size if path.exists() else 0

    def discard_partial(self, partial_key: str) -> None:
        self._path("partial", partial_key).unlink(missing_ok=True)

    def commit(self, partial_key: str, key: str) -> None:
        source = self._path("partial", partial_key)
        if not source.exists():
            raise BlobNotFound(partial_key)
        target = self._path("blobs", key)
        make_dir(target.parent)
        os.replace(source, target)
        self._folder_sync.sync(target.parent)  # the rename is durable when this returns

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        path = self._path("blobs", key)
        try:
            handle = path.open("rb")
        except FileNotFoundError as exc:
            raise BlobNotFound(key) from exc
        with handle:
            handle.seek(start)
            remaining = None if end is None else max(0, end - start)
            while remaining is None or remaining > 0:
                chunk = handle.read(_CHUNK if remaining is None else min(_CHUNK, remaining))
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    def local_path(self, key: str) -> Path | None:
        path = self._path("blobs", key)
        return path if path.is_file() else None

    def size(self, key: str) -> int:
        try:
            return self._path("blobs", key).stat().st_size
        except FileNotFoundError as exc:
            raise BlobNotFound(key) from exc

    def problem(self) -> str | None:
        """A missing or read-only folder of the store (None when both are usable)."""
        for area in ("partial", "blobs"):
            folder = self.root / area
            if not folder.is_dir():
                return f"the blob folder {folder} is missing"
            if not os.access(folder, os.W_OK | os.X_OK):
                return f"the blob folder {folder} is not writable by this server's user"
        return None

    def delete(self, key: str) -> None:
        self._path("blobs", key).unlink(missing_ok=True)
