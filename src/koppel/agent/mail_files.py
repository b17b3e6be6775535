"""The subject and date of a mail message dragged from a mail program: ``.eml`` (MIME,
the standard library) and Outlook's ``.msg`` (an OLE compound file, read with ``olefile``,
BSD-licensed; ``extract-msg`` is GPL and cannot ship in this MIT project).

A ``.msg`` keeps each property of the message ([MS-OXMSG]): variable-length ones as
streams named ``__substg1.0_<id><type>`` (the subject is 0x0037, as UTF-16 ``001F`` or
8-bit ``001E``), fixed-length ones as 16-byte records in ``__properties_version1.0``
after a 32-byte header at the top level (the times are ``PT_SYSTIME``, a FILETIME).
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

MAIL_SUFFIXES = (".eml", ".msg")
SUBJECT_UNICODE = "__substg1.0_0037001F"
SUBJECT_8BIT = "__substg1.0_0037001E"
PROPERTIES = "__properties_version1.0"
TOP_LEVEL_HEADER = 32  # reserved, next ids, recipient and attachment counts
PT_SYSTIME = 0x0040
# The date an e-mail's Date header gives is when it was sent: the submit time first;
# a message saved before sending has only the delivery (or no) time.
CLIENT_SUBMIT_TIME = 0x0039
MESSAGE_DELIVERY_TIME = 0x0E06
FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)


def mail_header(path: Path) -> tuple[str | None, str | None]:
    """The subject and date (ISO 8601) of a ``.eml`` or ``.msg`` file, when it has them."""
    if path.suffix.lower() == ".msg":
        return msg_header(path)
    return eml_header(path)


def eml_header(path: Path) -> tuple[str | None, str | None]:
    """The Subject and Date (ISO 8601) of an e-mail message file, when it has them."""
    import email
    import email.policy

    try:
        with path.open("rb") as handle:
            message = email.message_from_binary_file(handle, policy=email.policy.default)
    except (OSError, ValueError):
        return None, None
    subject = str(message.get("subject") or "").strip() or None
    date: str | None = None
    header = message.get("date")
    moment = getattr(header, "datetime", None) if header is not None else None
    if moment is not None:
        date = moment.isoformat()
    return subject, date


def msg_header(path: Path) -> tuple[str | None, str | None]:
    """The subject and the submit (else delivery) time of an Outlook ``.msg`` file, in
    UTC; ``(None, None)`` for a file that is not one."""
    import olefile

    try:
        if not olefile.isOleFile(str(path)):
            return None, None
        with olefile.OleFileIO(str(path)) as ole:
            subject = _subject(ole)
            times = _times(ole.openstream(PROPERTIES).read()) if ole.exists(PROPERTIES) else {}
    except Exception:
        # olefile raises whatever a damaged file leads it to (OverflowError, IndexError,
        # ...). The subject and date are a convenience: the file is sent all the same.
        return None, None
    moment = times.get(CLIENT_SUBMIT_TIME) or times.get(MESSAGE_DELIVERY_TIME)
    return subject, moment.isoformat() if moment else None


def _subject(ole: Any) -> str | None:  # an olefile.OleFileIO (untyped)
    for name, encoding in ((SUBJECT_UNICODE, "utf-16-le"), (SUBJECT_8BIT, "cp1252")):
        if ole.exists(name):
            raw: bytes = ole.openstream(name).read()
            text = raw.decode(encoding, errors="replace").rstrip("\x00").strip()
            return text or None
    return None


def _times(properties: bytes) -> dict[int, datetime]:
    """The ``PT_SYSTIME`` properties of the top level, by property id."""
    found: dict[int, datetime] = {}
    for offset in range(TOP_LEVEL_HEADER, len(properties) - 15, 16):
        tag, _flags, value = struct.unpack_from("<IIQ", properties, offset)
        if tag & 0xFFFF == PT_SYSTIME and value:
            try:
                found[tag >> 16] = FILETIME_EPOCH + timedelta(microseconds=value // 10)
            except OverflowError:
                continue
    return found
