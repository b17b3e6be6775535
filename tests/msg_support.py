"""Builds a small Outlook ``.msg`` file for the tests. olefile can only read, and the
.msg writers on PyPI are GPL, so this writes the OLE compound file itself ([MS-CFB],
version 3: 512-byte sectors): a header, one FAT sector, one directory sector (at most
four entries: the root and three streams), one MiniFAT sector and the mini stream, where
every stream under 4096 bytes lives in 64-byte mini sectors. Enough for the message's
top-level property streams ([MS-OXMSG]); not a general writer."""

from __future__ import annotations

import struct
from datetime import UTC, datetime

SECTOR, MINI = 512, 64
FREE, END, FAT_SECTOR = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD
NO_STREAM = 0xFFFFFFFF
PT_SYSTIME = 0x0040


def filetime(moment: datetime) -> int:
    """100-nanosecond intervals since 1601-01-01 UTC."""
    delta = moment - datetime(1601, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


def properties_stream(times: dict[int, datetime]) -> bytes:
    """A top-level ``__properties_version1.0``: 32-byte header, 16-byte PT_SYSTIME records."""
    records = b"".join(
        struct.pack("<IIQ", (prop << 16) | PT_SYSTIME, 0x6, filetime(moment))
        for prop, moment in times.items()
    )
    return b"\x00" * 32 + records


def _entry(name: str, kind: int, right: int, child: int, start: int, size: int) -> bytes:
    encoded = (name + "\x00").encode("utf-16-le")
    return struct.pack(
        "<64sHBBIII16sIQQIQ",
        encoded,
        len(encoded),
        kind,  # 2 stream, 5 root
        1,  # black: a chain of right siblings is a valid red-black tree of black nodes
        NO_STREAM,  # left sibling
        right,
        child,
        b"\x00" * 16,  # CLSID
        0,  # state bits
        0,  # created
        0,  # modified
        start,
        size,
    )


def compound_file(streams: dict[str, bytes]) -> bytes:
    """An OLE compound file holding ``streams`` (at most 3, each under 4096 bytes)."""
    assert len(streams) <= 3 and all(len(data) < 4096 for data in streams.values())
    # Siblings in the order [MS-CFB] compares names: length first, then upper case.
    names = sorted(streams, key=lambda n: (len(n), n.upper()))
    mini_stream = b""
    minifat: list[int] = []
    starts: dict[str, int] = {}
    for name in names:
        data = streams[name]
        count = max(1, -(-len(data) // MINI))
        first = len(minifat)
        starts[name] = first
        minifat.extend(range(first + 1, first + count))
        minifat.append(END)
        mini_stream += data.ljust(count * MINI, b"\x00")
    container_sectors = -(-len(mini_stream) // SECTOR)
    # Sectors: 0 FAT, 1 directory, 2 MiniFAT, 3.. the mini stream's container.
    fat = [FAT_SECTOR, END, END]
    fat.extend(range(4, 3 + container_sectors))
    fat.append(END)
    fat += [FREE] * (SECTOR // 4 - len(fat))
    entries = [
        _entry("Root Entry", 5, NO_STREAM, 1 if names else NO_STREAM, 3, container_sectors * SECTOR)
    ]
    for index, name in enumerate(names, start=1):
        right = index + 1 if index < len(names) else NO_STREAM
        entries.append(_entry(name, 2, right, NO_STREAM, starts[name], len(streams[name])))
    # Unused directory entries: no name, type 0, no siblings and no child.
    unused = b"\x00" * 68 + struct.pack("<III", NO_STREAM, NO_STREAM, NO_STREAM) + b"\x00" * 48
    directory = b"".join(entries) + unused * (4 - len(entries))
    header = struct.pack(
        "<8s16sHHHHH6sIIIIIIIIII",
        bytes.fromhex("D0CF11E0A1B11AE1"),
        b"\x00" * 16,
        0x003E,  # minor version
        0x0003,  # major version 3
        0xFFFE,  # little-endian
        9,  # 512-byte sectors
        6,  # 64-byte mini sectors
        b"\x00" * 6,
        0,  # directory sectors (0 in version 3)
        1,  # FAT sectors
        1,  # first directory sector
        0,  # transaction signature
        4096,  # mini stream cutoff
        2,  # first MiniFAT sector
        1,  # MiniFAT sectors
        END,  # first DIFAT sector
        0,  # DIFAT sectors
        0,  # DIFAT[0]: the FAT is sector 0
    )
    header += struct.pack("<I", FREE) * 108
    minifat_sector = struct.pack(f"<{len(minifat)}I", *minifat).ljust(SECTOR, b"\xff")
    body = (
        struct.pack(f"<{len(fat)}I", *fat)
        + directory
        + minifat_sector
        + mini_stream.ljust(container_sectors * SECTOR, b"\x00")
    )
    return header + body


def msg_file(
    subject: str | None,
    submitted: datetime | None = None,
    delivered: datetime | None = None,
    unicode: bool = True,
) -> bytes:
    """A .msg with a subject and the submit and delivery times."""
    streams: dict[str, bytes] = {}
    if subject is not None:
        if unicode:
            streams["__substg1.0_0037001F"] = subject.encode("utf-16-le")
        else:
            streams["__substg1.0_0037001E"] = subject.encode("cp1252")
    times = {0x0039: submitted, 0x0E06: delivered}
    streams["__properties_version1.0"] = properties_stream(
        {prop: moment for prop, moment in times.items() if moment is not None}
    )
    return compound_file(streams)
