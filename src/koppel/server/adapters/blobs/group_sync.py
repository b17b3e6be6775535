"""Group commit of folder fsyncs: uploads that complete at once share one fsync.

A committed blob is durable once its folder is fsynced after the rename. When many
uploads complete together (an agent sending 200 small files on several connections),
one fsync of the folder taken after all their renames makes every one of them durable:
the first caller becomes the leader and syncs, callers arriving meanwhile queue for the
next round, which one of them leads. Each caller returns only once a sync that started
after its call has finished; a failed sync raises in every caller that waited for it,
so nothing is acknowledged that is not durable.

A file's own contents still need their own fsync (``sync_partial``): only ``syncfs``
could flush many files at once, and it flushes the whole file system.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


def fsync_dir(folder: Path) -> None:
    """Make a folder's entries (renames into it) durable; nothing where folders cannot
    be opened (Windows: NTFS journals the rename itself)."""
    if os.name == "posix":
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@dataclass
class _Round:
    """The folders to sync in one round, and its outcome once done."""

    folders: set[Path] = field(default_factory=set)
    callers: int = 0
    done: bool = False
    errors: dict[Path, BaseException] = field(default_factory=dict)


class GroupSync:
    """Folder fsyncs shared by the callers that ask at the same time."""

    def __init__(self, sync: Callable[[Path], None] = fsync_dir) -> None:
        self._sync = sync
        self._changed = threading.Condition()
        self._next: _Round | None = None  # collecting callers; not started
        self._leading = False

    @property
    def queued(self) -> int:
        """How many callers wait for the next round (for tests and diagnostics)."""
        with self._changed:
            return self._next.callers if self._next is not None else 0

    def sync(self, folder: Path) -> None:
        """Return once ``folder`` was fsynced by a sync that began after this call;
        raise what that sync raised."""
        with self._changed:
            if self._next is None:
                self._next = _Round()
            mine = self._next
            mine.folders.add(folder)
            mine.callers += 1
            while not mine.done:
                if not self._leading:
                    self._lead()
                else:
                    self._changed.wait()
        error = mine.errors.get(folder)
        if error is not None:
            raise error

    def _lead(self) -> None:
        """Sync the round being collected, outside the lock; called holding it."""
        current, self._next, self._leading = self._next, None, True
        assert current is not None
        self._changed.release()
        try:
            for folder in current.folders:
                try:
                    self._sync(folder)
                except BaseException as exc:  # every waiter must hear of it
                    current.errors[folder] = exc
        finally:
            self._changed.acquire()
            current.done, self._leading = True, False
            # The waiters of the round done return; one of the next round leads it.
            self._changed.notify_all()
