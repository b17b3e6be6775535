"""File extensions: how a name's extension is read and how an allowed one is written, the
same on the server (which keeps an allowlist per environment) and in the agent (which
checks it before sending any byte).

Kept free of third-party imports, like :mod:`koppel.protocol.filenames`.
"""

from __future__ import annotations

import re

# The extension of a name without one ("README"); allowed only when an administrator
# says so explicitly.
NO_EXTENSION = ""
# How an administrator names "no extension" on the command line and in forms.
NO_EXTENSION_WORD = "."
MAX_EXTENSION_CHARS = 32
# Letters and digits of any script, '_', '+', '-' and '~' (e.g. "7z", "tar", "c++").
_EXTENSION = re.compile(rf"^[\w+~-]{{1,{MAX_EXTENSION_CHARS}}}$")


def extension_of(name: str) -> str:
    """The extension that decides whether ``name`` may be uploaded: what follows the
    last dot, in lower case (``invoice.pdf.exe`` → ``exe``, ``Scan.PDF`` → ``pdf``).

    A name without a dot has :data:`NO_EXTENSION`. A leading dot counts (``.exe`` → ``exe``):
    Windows reads it as an extension, so it must be judged as one.
    """
    _, dot, suffix = name.rpartition(".")
    return suffix.lower() if dot else NO_EXTENSION


def normalize_extension(text: str) -> str | None:
    """An extension as an administrator typed it (``PDF``, ``.pdf``), in its stored form
    (``pdf``); :data:`NO_EXTENSION` for ``.``; None when it cannot be one (empty, a dot
    inside, a space, a separator, more than 32 characters)."""
    value = text.strip()
    if value == NO_EXTENSION_WORD:
        return NO_EXTENSION
    value = value.removeprefix(".").lower()
    return value if _EXTENSION.match(value) else None


def shown(extension: str) -> str:
    """An extension as people read it: ``.pdf``, or ``(no extension)``."""
    return f".{extension}" if extension else "(no extension)"


def shown_list(extensions: list[str] | tuple[str, ...] | set[str] | frozenset[str]) -> str:
    """Extensions as one readable, sorted list (``.csv, .pdf, (no extension)``)."""
    ordered = sorted(extensions, key=lambda e: (e == NO_EXTENSION, e))
    return ", ".join(shown(e) for e in ordered) or "(none)"
