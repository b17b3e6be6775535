"""The data folder is readable by the server's own OS user only: the folder and its
sub-folders 0700, every file the server writes there 0600, whatever the umask.

Modes are given where files and folders are created (a umask can only take bits away),
and an existing data folder left looser by an older release or by hand is tightened at
start: the folder itself, the database files, the key file and the known sub-folders.
Files deeper down are not walked (there may be millions of blobs): a 0700 data folder
already keeps everyone else out of everything beneath it.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def make_dir(path: Path) -> None:
    """Create a folder and its missing parents, each readable by this user only; an
    existing one is left as it is (see ``tighten``)."""
    if path.is_dir():
        return
    # Path.mkdir(parents=True) would give the parents it creates the default mode.
    missing = [path, *(p for p in path.parents if not p.is_dir())]
    for folder in reversed(missing):
        folder.mkdir(mode=DIR_MODE, exist_ok=True)


def open_private(path: Path, flags: int) -> int:
    """``os.open`` that creates a missing file 0600 (an existing file keeps its mode)."""
    return os.open(path, flags | getattr(os, "O_CLOEXEC", 0), FILE_MODE)


def create_file(path: Path) -> None:
    """Create an empty file 0600 when it does not exist yet."""
    os.close(open_private(path, os.O_WRONLY | os.O_CREAT))


def _loose(mode: int, wanted: int) -> bool:
    return bool(stat.S_IMODE(mode) & ~wanted)


def tighten(paths: Iterable[Path]) -> list[tuple[Path, int, int]]:
    """Take group and other permissions away from these paths (folders to 0700, files
    to 0600) where they have any; each changed path with its old and new mode. Missing
    paths and paths of another owner (which ``chmod`` refuses) are skipped."""
    changed = []
    for path in paths:
        try:
            found = path.lstat()
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(found.st_mode):
            continue  # the link's target is not ours to change
        wanted = DIR_MODE if stat.S_ISDIR(found.st_mode) else FILE_MODE
        if os.name != "posix" or not _loose(found.st_mode, wanted):
            continue
        new = stat.S_IMODE(found.st_mode) & wanted
        with contextlib.suppress(PermissionError):
            path.chmod(new)
            changed.append((path, stat.S_IMODE(found.st_mode), new))
    return changed


def secure_data_dir(data_dir: Path, owned: Iterable[Path] = ()) -> list[tuple[Path, int, int]]:
    """Create the data folder 0700, or tighten an existing one and ``owned`` (the
    database files, the key file, sub-folders); what was tightened."""
    make_dir(data_dir)
    return tighten([data_dir, *owned])


def describe(changed: list[tuple[Path, int, int]]) -> str:
    """One log line about what ``secure_data_dir`` tightened."""
    parts = ", ".join(f"{path} ({old:04o} -> {new:04o})" for path, old, new in changed)
    return f"tightened the permissions of the data folder, readable by others until now: {parts}"
