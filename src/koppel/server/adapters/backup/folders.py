"""Folders written whole or not at all: built as ``NAME.partial`` and renamed at the
end, removed when anything fails on the way."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from koppel.server.adapters.backup.errors import BackupRefused
from koppel.server.adapters.private_files import make_dir

# A file in every folder under construction: a leftover one (a killed run) is ours to
# remove, anything else of that name is not.
MARKER = ".koppel-partial"


def fsync_path(path: Path) -> None:
    """Flush a file or folder to disk (folders: so that renames into it last)."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) if path.is_dir() else os.O_RDONLY
    try:
        fd = os.open(path, flags)
    except OSError:
        return  # a platform that cannot open folders: nothing more to do
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def refuse_existing(dest: Path) -> None:
    """Refuse a destination that exists and holds anything."""
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupRefused(
            f"{dest} exists and is not empty; give a new folder (e.g. {dest.name}-2) or "
            "move that one away. A backup never writes into an existing one.",
            "destination_exists",
        )


@contextmanager
def built_whole(dest: Path) -> Iterator[Path]:
    """A fresh ``DEST.partial`` folder to fill; renamed to ``dest`` when the block ends,
    deleted when it raises."""
    refuse_existing(dest)
    partial = dest.with_name(dest.name + ".partial")
    if partial.exists():
        if not (partial / MARKER).exists():
            raise BackupRefused(
                f"{partial} exists and was not made by Koppel; move it away first.",
                "destination_exists",
            )
        shutil.rmtree(partial)  # what a killed earlier run left
    make_dir(partial)
    (partial / MARKER).touch()
    try:
        yield partial
        (partial / MARKER).unlink()
        fsync_path(partial)
        if dest.exists():
            dest.rmdir()  # empty (checked above)
        os.rename(partial, dest)
        fsync_path(dest.parent)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
