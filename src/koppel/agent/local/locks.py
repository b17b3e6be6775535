"""File locks that work on Windows, macOS and Linux (``filelock``).

On POSIX ``filelock`` takes the same ``flock`` the agent used before, so the kernel
releases a lock when its process dies; on Windows it takes ``msvcrt.locking``, which
Windows releases the same way. Lock files are private to the user (0600).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

# ``filelock`` is imported when a lock is taken: loading it costs a command that only
# reads (``koppel envs``) a sixth of its start-up.

MODE = 0o600


def _prepare(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold the lock at ``path``, waiting as long as another process holds it."""
    from filelock import FileLock

    _prepare(path)
    with FileLock(path, timeout=-1, mode=MODE):
        yield


@contextlib.contextmanager
def attempt(path: Path) -> Iterator[bool]:
    """Hold the lock at ``path`` if it is free; yields whether this process got it."""
    from filelock import FileLock, Timeout

    _prepare(path)
    lock = FileLock(path, timeout=0, mode=MODE)
    try:
        lock.acquire()
    except Timeout:
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


def is_held(path: Path) -> bool:
    """Whether some process holds the lock at ``path`` right now (a probe: taken and
    given back at once when free)."""
    if not path.exists():
        return False
    with attempt(path) as mine:
        return not mine
