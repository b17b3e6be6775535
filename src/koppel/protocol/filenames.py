"""Safe file names: the rules the server and the agent share, so a name accepted on one
workstation can be saved on any other (Windows included).

Kept free of third-party imports: the agent checks names before sending any byte.
"""

from __future__ import annotations

import re

MAX_NAME_BYTES = 255
_FORBIDDEN = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
# Windows refuses these as a base name, with or without an extension ("NUL.txt").
_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"COM{n}" for n in range(1, 10)}
    | {f"LPT{n}" for n in range(1, 10)}
)


def unsafe_reason(name: str) -> str | None:
    """Why ``name`` is not a safe file name, or None when it is."""
    if not name or not name.strip():
        return "the name is empty"
    if len(name.encode("utf-8", errors="surrogatepass")) > MAX_NAME_BYTES:
        return f"the name is longer than {MAX_NAME_BYTES} bytes (UTF-8)"
    bad = _FORBIDDEN.search(name)
    if bad:
        char = bad.group(0)
        shown = repr(char) if char.isprintable() else f"control character {ord(char):#04x}"
        return f'it contains {shown} (not allowed: < > : " / \\ | ? * and control characters)'
    if name.endswith((".", " ")):
        return "it ends with a dot or a space"
    if name in (".", ".."):
        return "it is not a file name"
    if name.split(".", 1)[0].rstrip(" ").upper() in _RESERVED:
        return "it is a name Windows reserves (CON, PRN, AUX, NUL, COM1-9, LPT1-9)"
    return None


def is_safe(name: str) -> bool:
    """Whether ``name`` passes :func:`unsafe_reason`."""
    return unsafe_reason(name) is None
