"""Names on this workstation's disk: what the file system at a folder accepts.

Server names are at most 255 bytes of UTF-8 (the shared rule), but the agent adds a
temporary suffix while it writes, " (2)" when a name is taken, and some file systems allow
less (eCryptfs: 143 bytes). Every name the agent writes goes through here, so it is
shortened by bytes (UTF-16 units on Windows) for the folder's own file system, keeping
the extension. Free of third-party imports.
"""

from __future__ import annotations

import os
from pathlib import Path

from koppel.protocol.filenames import (
    MAX_NAME_BYTES,
    MAX_NAME_UNITS,
    Measure,
    fit_name,
    numbered_name,
    utf8_size,
    utf16_size,
)


def name_limit(folder: Path) -> tuple[int, Measure]:
    """The longest name the file system of ``folder`` takes, and how it counts.

    Windows counts UTF-16 units (255); elsewhere the file system says (``NAME_MAX`` of the
    nearest existing folder), in bytes, at most 255.
    """
    if os.name == "nt":
        return MAX_NAME_UNITS, utf16_size
    probe = folder
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    try:
        limit = os.pathconf(probe, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = MAX_NAME_BYTES
    return (min(limit, MAX_NAME_BYTES) if limit > 0 else MAX_NAME_BYTES), utf8_size


def local_name(name: str, folder: Path, *, reserve: int = 0, fallback: str = "file") -> str:
    """``name`` made safe and short enough for ``folder``, leaving ``reserve`` (ASCII
    characters the caller adds) free; see :func:`koppel.protocol.filenames.fit_name`."""
    limit, measure = name_limit(folder)
    return fit_name(name, limit - reserve, fallback=fallback, measure=measure)


def numbered(name: str, number: int, folder: Path) -> str:
    """``name (number).ext`` short enough for ``folder`` (``name`` is a local name)."""
    limit, measure = name_limit(folder)
    return numbered_name(name, number, limit, measure)


def temporary_name(name: str, folder: Path, tag: str, suffix: str) -> str:
    """``.<name>.<tag><suffix>``, the name of a file being written, within the limit:
    the name gives way so that the suffix always fits."""
    tail = f".{tag}{suffix}"
    return f".{local_name(name, folder, reserve=1 + len(tail))}{tail}"
