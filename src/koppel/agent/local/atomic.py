"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from koppel.agent.local.file_names import local_name

# What mkstemp adds around the name: two dots, 8 random characters and ".tmp".
_TEMP_EXTRA = 2 + 8 + 4


@contextlib.contextmanager
def atomic_writer(path: Path, mode: int = 0o600) -> Iterator[BinaryIO]:
    """Yield a binary file that replaces ``path`` (with permissions ``mode``) on success.

    The temporary file lives in the same folder so that ``os.replace`` is a rename on one
    file system; it is fsynced before the rename and the folder after it, so a crash leaves
    either the old or the new content. On an exception the temporary file is removed.
    """
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    # ".<name>.<8 random characters>.tmp": the name gives way so that it all fits.
    prefix = f".{local_name(path.name, folder, reserve=_TEMP_EXTRA)}."
    # mkstemp creates the file with mode 0600 already, so secrets are never world-readable.
    fd, temp_name = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if mode != 0o600:
            os.chmod(temp_name, mode)
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
    _fsync_dir(folder)


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` atomically."""
    with atomic_writer(path, mode) as handle:
        handle.write(data)


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; not possible (nor needed) on Windows.
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
