"""File sizes as people read them: the way Windows Explorer shows them.

Explorer counts in powers of 1,024 (1 KB = 1,024 bytes, 1 MB = 1,048,576 bytes) and
shows three significant digits, cut off rather than rounded (the shell's
StrFormatByteSize): "532 bytes", "1.50 KB", "23.4 KB", "999 KB", "0.97 MB", "47.6 MB",
"75.0 MB". A unit is used up to 1,000 of it; beyond that the next one, so a number never
has more than three digits. The same file thus reads the same in Explorer, in `koppel`,
in `koppel-admin`, on the portal and in every message, and a limit of 75 MB is
78,643,200 bytes, never 75,000,000.

In Dutch and French they read as Explorer shows them there: "75,0 MB" and "78.643.200
bytes" in Dutch, "75,0 Mo" and "78 643 200 octets" in French (the current language of
``koppel.i18n``).

Kept free of third-party imports: the agent checks sizes before sending any byte.
"""

from __future__ import annotations

from typing import NamedTuple

from koppel.i18n import current_language

KB = 1024
MB = KB * KB
GB = KB * MB
TB = KB * GB
_FACTORS = (KB, MB, GB, TB)


class _Style(NamedTuple):
    thousands: str
    decimal: str
    units: tuple[str, str, str, str]  # KB, MB, GB, TB
    byte: str
    bytes: str
    zero_is_singular: bool  # French: "0 octet", "1 octet", "2 octets"


_STYLES = {
    "en": _Style(",", ".", ("KB", "MB", "GB", "TB"), "byte", "bytes", False),
    "nl": _Style(".", ",", ("KB", "MB", "GB", "TB"), "byte", "bytes", False),
    "fr": _Style("\u202f", ",", ("Ko", "Mo", "Go", "To"), "octet", "octets", True),
}


def _style() -> _Style:
    return _STYLES.get(current_language(), _STYLES["en"])


def _grouped(number: int, style: _Style) -> str:
    return f"{number:,}".replace(",", style.thousands)


def byte_count(size: int) -> str:
    """The exact number of bytes: "1 byte", "78,643,200 bytes"."""
    style = _style()
    plural = size > 1 if style.zero_is_singular else size != 1
    return f"{_grouped(size, style)} {style.bytes if plural else style.byte}"


def format_size(size: int) -> str:
    """A size the way Windows Explorer shows it: "47.6 MB" for 49,999,872 bytes."""
    if size < KB:
        return byte_count(size)
    style = _style()
    index = next((i for i, u in enumerate(_FACTORS) if size < 1000 * u), len(_FACTORS) - 1)
    unit = _FACTORS[index]
    # Three significant digits: 2 decimals below 10 units, 1 below 100, none above.
    decimals = 2 if size < 10 * unit else 1 if size < 100 * unit else 0
    scaled = size * 10**decimals // unit  # cut off, as Explorer does, never rounded up
    whole, fraction = divmod(scaled, 10**decimals)
    shown = _grouped(whole, style)
    if decimals:
        shown += f"{style.decimal}{fraction:0{decimals}d}"
    return f"{shown} {style.units[index]}"


def format_size_exact(size: int) -> str:
    """A size with its exact byte count, as Explorer's Properties shows it:
    "75.0 MB (78,643,200 bytes)"; below 1 KB only the bytes ("532 bytes"). For limits
    and refusals, where a file just above the limit reads the same as the limit."""
    shown = format_size(size)
    return shown if size < KB else f"{shown} ({byte_count(size)})"
