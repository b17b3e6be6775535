"""Writing a download's large aligned buffers past the page cache (Linux ``O_DIRECT``).

Written through the page cache, every byte is copied once more (into the cache) and the
final fsync then waits for the whole file to reach the disk. With ``O_DIRECT`` the disk
reads the caller's buffer itself while the next one is received, and the fsync has only
the file's metadata left. It needs buffers, lengths and file offsets aligned to the disk's
blocks: the segments of ``verified_writer`` are page-aligned (mmap) and 1 MiB long, so
only the file's last, partial block is written through the page cache.

Where ``O_DIRECT`` does not exist (Windows, macOS), the file is not on a local disk
(:func:`on_a_disk`) or the file system refuses it (EINVAL), :class:`DirectWriter` says so
and the caller writes as usual.
"""

from __future__ import annotations

import errno
import io
import mmap
import os
from typing import BinaryIO

# Larger than any logical block size in use (512 or 4096 bytes).
ALIGN = 4096


def aligned_buffer(size: int) -> mmap.mmap:
    """``size`` bytes of page-aligned memory of this process's own.

    Private, not mmap's default shared memory: on Linux, shared anonymous memory lives in
    shmem, whose pages each cost a fault on first use and are slower to pin for an
    ``O_DIRECT`` write (about 10 ms of a 75 MB download on the bench machine)."""
    private = getattr(mmap, "MAP_PRIVATE", None)
    if private is None:  # Windows: anonymous memory is the process's own already
        return mmap.mmap(-1, size)
    return mmap.mmap(-1, size, flags=private | mmap.MAP_ANONYMOUS)


def on_a_disk(fd: int) -> bool:
    """Whether the file lives on a file system of a block device (ext4 or XFS on a disk).

    Network and FUSE file systems (and tmpfs, btrfs, ZFS) have device numbers without a
    major number. On NFS, O_DIRECT makes every write wait for the server, slower than
    the page cache: they keep the plain writes."""
    return os.major(os.fstat(fd).st_dev) != 0


class DirectWriter:
    """Writes aligned memory to the file of ``handle`` (at its current position) with
    ``O_DIRECT`` when this system allows it: :meth:`write` answers False when not."""

    def __init__(self, handle: BinaryIO) -> None:
        self._fd: int | None = None
        self._flags = 0
        self._direct = False
        flag = getattr(os, "O_DIRECT", 0)
        if not flag:
            return
        import fcntl

        try:
            handle.flush()
            fd = handle.fileno()
            if os.lseek(fd, 0, os.SEEK_CUR) % ALIGN or not on_a_disk(fd):
                return
            flags = fcntl.fcntl(fd, fcntl.F_GETFL)
            fcntl.fcntl(fd, fcntl.F_SETFL, flags | flag)
        except (OSError, ValueError, io.UnsupportedOperation):  # not a file, or no O_DIRECT
            return
        self._fd, self._flags, self._direct = fd, flags, True

    @property
    def direct(self) -> bool:
        """Whether writes bypass the page cache (still)."""
        return self._direct

    def write(self, view: memoryview) -> bool:
        """Write all of ``view``: its aligned part past the page cache, the rest (the end
        of the file) through it. False, writing nothing, when ``O_DIRECT`` is not
        available for this file."""
        fd = self._fd
        if fd is None:
            return False
        done = 0
        if self._direct:
            aligned = len(view) - len(view) % ALIGN
            try:
                while done < aligned:
                    done += os.write(fd, view[done:aligned])
            except OSError as exc:
                if exc.errno != errno.EINVAL:
                    raise
                self._stop()  # this file system refuses it after all: write as usual
        if done < len(view):
            self._stop()  # the unaligned end of the file
            while done < len(view):
                done += os.write(fd, view[done:])
        return True

    def _stop(self) -> None:
        """Write through the page cache from now on."""
        if self._direct and self._fd is not None:
            import fcntl

            self._direct = False
            fcntl.fcntl(self._fd, fcntl.F_SETFL, self._flags)
