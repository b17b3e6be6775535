"""Safe file names: the rules the server and the agent share, so a name accepted on one
workstation can be saved on any other (Windows included), and shows what it is.

Also the shortening rule the agent applies before it writes a name to disk: by bytes
(or UTF-16 units on Windows) for the target file system, keeping the extension.

Kept free of third-party imports: the agent checks names before sending any byte.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from koppel.i18n import gettext as _

# Per path component: 255 bytes of UTF-8 on Linux and macOS (ext4, APFS, ...), 255 UTF-16
# code units on Windows (NTFS). A name within 255 UTF-8 bytes is within both.
MAX_NAME_BYTES = 255
MAX_NAME_UNITS = 255

_FORBIDDEN = re.compile(r'[<>:"/\\|?*]')
# Control (Cc), format (Cf: bidi overrides, zero-width spaces, ...), lone surrogates (Cs)
# and the line and paragraph separators: invisible, or able to make a name look like
# another one ("\u202etxt.exe" shows as "exe.txt") or break a log line.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# Windows refuses these as a base name, with or without an extension ("NUL.txt"), in any
# case, also followed by spaces ("CON .txt"); COM and LPT with 0-9 and the superscripts
# ¹²³, and the console devices CONIN$ and CONOUT$ (current Windows).
_DIGITS = "0123456789¹²³"
RESERVED_NAMES = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"COM{d}" for d in _DIGITS}
    | {f"LPT{d}" for d in _DIGITS}
)
# What counts as an extension to keep when shortening: a short final ".suffix" without
# spaces or dots ("Report v1.2 final" has none).
_EXTENSION = re.compile(r"\.[^.\s]{1,16}\Z")


def utf8_size(name: str) -> int:
    """The length of ``name`` in UTF-8 bytes (what Linux and macOS limit)."""
    return len(name.encode("utf-8", errors="surrogatepass"))


def utf16_size(name: str) -> int:
    """The length of ``name`` in UTF-16 code units (what Windows limits)."""
    return len(name.encode("utf-16-le", errors="surrogatepass")) // 2


def invisible_char(name: str) -> str | None:
    """The first control, format or separator character in ``name``, or None."""
    for char in name:
        if unicodedata.category(char) in _INVISIBLE_CATEGORIES:
            return char
    return None


def describe_char(char: str) -> str:
    """``U+202E (RIGHT-TO-LEFT OVERRIDE)``: a character named so a person can find it."""
    label = unicodedata.name(char, "") or {"Cc": "control character"}.get(
        unicodedata.category(char), "unnamed character"
    )
    return f"U+{ord(char):04X} ({label})"


def is_reserved(name: str) -> bool:
    """Whether Windows reserves ``name`` for a device (CON, NUL.txt, com¹.pdf, ...)."""
    return name.split(".", 1)[0].rstrip(" ").upper() in RESERVED_NAMES


def unsafe_reason(name: str) -> str | None:
    """Why ``name`` is not a safe file name, or None when it is."""
    if not name or not name.strip():
        return _("the name is empty")
    if utf8_size(name) > MAX_NAME_BYTES:
        return _("the name is longer than {limit} bytes (UTF-8)").format(limit=MAX_NAME_BYTES)
    invisible = invisible_char(name)
    if invisible is not None:
        return _(
            "it contains the invisible or control character {character}, "
            "which can hide what the name really is"
        ).format(character=describe_char(invisible))
    bad = _FORBIDDEN.search(name)
    if bad:
        return _('it contains {character!r} (not allowed: < > : " / \\ | ? * )').format(
            character=bad.group(0)
        )
    if name.endswith((".", " ")):
        return _("it ends with a dot or a space")
    if name in (".", ".."):
        return _("it is not a file name")
    if is_reserved(name):
        return _(
            "it is a name Windows reserves for a device (CON, PRN, AUX, NUL, COM0-9, "
            "LPT0-9, COM¹²³, LPT¹²³, CONIN$, CONOUT$, also with an extension)"
        )
    return None


def is_safe(name: str) -> bool:
    """Whether ``name`` passes :func:`unsafe_reason`."""
    return unsafe_reason(name) is None


# -- shortening ------------------------------------------------------------------------------

Measure = Callable[[str], int]


def split_extension(name: str) -> tuple[str, str]:
    """``("Report", ".pdf")``; the extension is "" when there is none worth keeping."""
    found = _EXTENSION.search(name)
    if found is None or found.start() == 0:
        return name, ""
    return name[: found.start()], found.group(0)


def _prefix_within(text: str, room: int, measure: Measure) -> str:
    """The longest prefix of ``text`` whose size is at most ``room``, never separating a
    character from the accents that follow it."""
    if measure(text) <= room:
        return text
    low, high = 0, len(text)
    while low < high:  # the longest prefix that fits (sizes only grow with length)
        middle = (low + high + 1) // 2
        if measure(text[:middle]) <= room:
            low = middle
        else:
            high = middle - 1
    cut = low
    while 0 < cut < len(text) and unicodedata.category(text[cut]).startswith("M"):
        cut -= 1
    return text[:cut] if cut else text[:low]


def shorten_name(name: str, limit: int = MAX_NAME_BYTES, measure: Measure = utf8_size) -> str:
    """``name`` cut until ``measure(name) <= limit``, keeping its extension when there is
    room for it: the stem gives way, from its end. Unchanged when it fits already.

    May return "" (nothing fits); :func:`fit_name` never does.
    """
    if measure(name) <= limit:
        return name
    stem, extension = split_extension(name)
    if extension and measure(extension) < limit:
        cut = _prefix_within(stem, limit - measure(extension), measure).rstrip(" .")
        if cut:
            return cut + extension
    return _prefix_within(name, limit, measure).rstrip(" .")


def fit_name(
    name: str,
    limit: int = MAX_NAME_BYTES,
    *,
    fallback: str = "file",
    measure: Measure = utf8_size,
) -> str:
    """A name safe under :func:`unsafe_reason`, at most ``limit`` by ``measure``, never
    empty, made from ``name`` (given by someone else: a server, a file):

    forbidden characters (path separators included), control and format characters
    become "_"; trailing spaces and dots go; a name Windows reserves
    gets a leading "_"; then it is shortened by :func:`shorten_name` (extension kept).
    ``fallback`` replaces a name left empty.
    """
    limit = max(1, limit)
    cleaned = "".join(
        "_"
        if _FORBIDDEN.match(char) or unicodedata.category(char) in _INVISIBLE_CATEGORIES
        else char
        for char in name
    )
    for candidate in (cleaned, fallback, "file"):
        text = candidate.rstrip(" .")
        if not text.strip():
            continue
        if is_reserved(text):
            text = "_" + text
        fitted = _shorten_both(text, limit, measure)
        if fitted and is_reserved(fitted):  # cut down to a device name ("CON.pdf")
            fitted = _shorten_both("_" + fitted, limit, measure)
        if fitted and is_safe(fitted):
            return fitted
    return "_"


def _shorten_both(name: str, limit: int, measure: Measure) -> str:
    # Within the target's limit and within the shared rule's 255 bytes of UTF-8.
    return shorten_name(shorten_name(name, limit, measure), MAX_NAME_BYTES, utf8_size)


def numbered_name(
    name: str, number: int, limit: int = MAX_NAME_BYTES, measure: Measure = utf8_size
) -> str:
    """``name`` with `` (number)`` before its extension ("a (2).pdf"), within ``limit``:
    the stem gives way, never the number or the extension. ``name`` must be safe."""
    stem, extension = split_extension(name)
    tail = f" ({number}){extension}"
    cut = _prefix_within(stem, limit - measure(tail), measure)
    if not cut:  # no room for the stem: number the whole name, shortened
        return fit_name(f"{stem}{tail}", limit, measure=measure)
    return (cut.rstrip(" .") or cut) + tail
