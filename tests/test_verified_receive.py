"""A download received into aligned segments (VerifiedWriter.receive), hashed as it
arrives and written past the page cache where Linux allows it (local/direct_io.py).

Real files in tmp_path (ext4 or tmpfs here: O_DIRECT where the file system has it, the
plain writes where not; both must give the same bytes). The body comes from a real
socket pair through the api's reader, or from a plain list of chunks.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from koppel.agent.api import _body
from koppel.agent.local import direct_io, verified_writer
from koppel.agent.local.atomic import atomic_writer
from koppel.agent.local.verified_writer import SEGMENT_BYTES, VerifiedWriter

SIZES = [
    0,
    1,
    direct_io.ALIGN - 1,
    SEGMENT_BYTES,  # ends exactly at a segment
    3 * SEGMENT_BYTES + direct_io.ALIGN,  # ends exactly at a block
    9 * SEGMENT_BYTES + 12_345,  # more segments than the pool, an unaligned end
]


def chunk_reader(body: bytes, piece: int = 100_000) -> _body.BodyReader:
    return _body._ChunkReader(iter([body[i : i + piece] for i in range(0, len(body), piece)]))


def receive(target: Path, reader: _body.BodyReader) -> tuple[str, int]:
    with atomic_writer(target) as handle, VerifiedWriter(handle) as out:
        out.receive(reader.readinto)
        return out.hexdigest(), out.size


@pytest.mark.parametrize("size", SIZES)
def test_the_file_holds_the_body_and_its_sha256(tmp_path: Path, size: int) -> None:
    body = os.urandom(size)
    target = tmp_path / "scan.pdf"
    assert receive(target, chunk_reader(body)) == (hashlib.sha256(body).hexdigest(), size)
    assert target.read_bytes() == body
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scan.pdf"]


def test_a_body_from_the_socket_is_received_whole(tmp_path: Path) -> None:
    body = os.urandom(5 * SEGMENT_BYTES + 777)
    left, right = socket.socketpair()

    def send() -> None:
        with right:
            for start in range(1000, len(body), 300_000):  # uneven pieces
                right.sendall(body[start : start + 300_000])

    sender = threading.Thread(target=send)
    sender.start()
    with left:
        # What httpx held with the headers (1000 bytes), then the socket itself.
        reader = _body._SocketReader(left, iter(()), body[:1000], len(body) - 1000)
        digest, size = receive(tmp_path / "scan.pdf", reader)
    sender.join(5)
    assert (digest, size) == (hashlib.sha256(body).hexdigest(), len(body))
    assert (tmp_path / "scan.pdf").read_bytes() == body


def test_a_socket_closed_early_is_a_network_error_and_leaves_nothing(tmp_path: Path) -> None:
    left, right = socket.socketpair()

    def send() -> None:
        with right:
            right.sendall(os.urandom(SEGMENT_BYTES + 5))  # of the 4 segments announced

    sender = threading.Thread(target=send)
    sender.start()
    with left, pytest.raises(httpx.RemoteProtocolError):
        receive(tmp_path / "scan.pdf", _body._SocketReader(left, iter(()), b"", 4 * SEGMENT_BYTES))
    sender.join(5)
    assert list(tmp_path.iterdir()) == []


def test_o_direct_is_used_where_linux_allows_it(tmp_path: Path) -> None:
    if not hasattr(os, "O_DIRECT"):
        pytest.skip("no O_DIRECT on this system: the plain writes are used (tested above)")
    import fcntl

    with (tmp_path / "probe").open("wb") as handle:
        writer = direct_io.DirectWriter(handle)
        if not direct_io.on_a_disk(handle.fileno()):
            assert not writer.direct  # tmpfs, NFS, FUSE...: the plain writes
            pytest.skip("tmp_path is not on a disk's file system here")
        assert writer.direct
        assert fcntl.fcntl(handle.fileno(), fcntl.F_GETFL) & os.O_DIRECT
        import mmap

        with mmap.mmap(-1, 2 * direct_io.ALIGN) as buffer, memoryview(buffer) as view:
            view[:] = b"a" * len(view)
            assert writer.write(view[: direct_io.ALIGN + 10])  # aligned part, then the end
        assert not writer.direct  # the unaligned end went through the page cache
        assert not fcntl.fcntl(handle.fileno(), fcntl.F_GETFL) & os.O_DIRECT
    assert (tmp_path / "probe").read_bytes() == b"a" * (direct_io.ALIGN + 10)


def test_o_direct_is_kept_to_a_disk_s_file_system(tmp_path: Path) -> None:
    # /dev/shm is tmpfs on Linux: no block device, so the plain writes (as on NFS).
    shm = Path("/dev/shm")
    if not hasattr(os, "O_DIRECT") or not shm.is_dir():
        pytest.skip("no O_DIRECT or no /dev/shm here")
    with tempfile.NamedTemporaryFile(dir=shm) as handle:
        assert not direct_io.on_a_disk(handle.fileno())
        assert not direct_io.DirectWriter(handle).direct  # type: ignore[arg-type]


def test_a_file_system_that_refuses_o_direct_gets_plain_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Some file systems accept the flag but refuse the write (EINVAL): faked here, as
    # no such file system is mounted on the test machine.
    real_write = os.write
    refused: list[int] = []

    def refusing(fd: int, data: bytes | memoryview) -> int:
        if hasattr(os, "O_DIRECT"):
            import fcntl

            if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT:
                refused.append(fd)
                raise OSError(errno.EINVAL, "Invalid argument")
        return real_write(fd, data)

    monkeypatch.setattr(direct_io.os, "write", refusing)
    body = os.urandom(2 * SEGMENT_BYTES + 99)
    target = tmp_path / "scan.pdf"
    assert receive(target, chunk_reader(body))[0] == hashlib.sha256(body).hexdigest()
    assert target.read_bytes() == body
    assert len(refused) <= 1  # asked once at most, then written as usual


def test_a_handle_without_a_file_descriptor_gets_plain_writes() -> None:
    body = os.urandom(SEGMENT_BYTES + 3)
    handle = io.BytesIO()
    with VerifiedWriter(handle) as out:  # type: ignore[arg-type]
        out.receive(chunk_reader(body).readinto)
        assert out.hexdigest() == hashlib.sha256(body).hexdigest()
    assert handle.getvalue() == body


def test_a_failed_write_stops_the_receiving_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A full disk, faked: the second segment cannot be written. The receiver, which
    # waits for free segments, must stop with that error, not wait forever.
    calls: list[int] = []

    def full(self: direct_io.DirectWriter, view: memoryview) -> bool:
        calls.append(len(view))
        if len(calls) >= 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return False  # the plain write

    monkeypatch.setattr(direct_io.DirectWriter, "write", full)

    def endless() -> Iterator[bytes]:
        while True:
            yield b"x" * 65536

    target = tmp_path / "scan.pdf"
    with pytest.raises(OSError, match="No space"):
        receive(target, _body._ChunkReader(endless()))
    assert list(tmp_path.iterdir()) == []


def test_segments_in_flight_are_bounded() -> None:
    # A slow disk slows the download down instead of holding the file in memory.
    assert verified_writer._SEGMENTS * SEGMENT_BYTES <= 16 * 1024 * 1024


def _mapping_of(address: int) -> str:
    """The line of /proc/self/maps that holds ``address``."""
    for line in Path("/proc/self/maps").read_text().splitlines():
        start, end = (int(x, 16) for x in line.split()[0].split("-"))
        if start <= address < end:
            return line
    raise AssertionError(f"{address:#x} is not mapped")


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="Linux's /proc shows mappings")
def test_segments_are_aligned_private_memory() -> None:
    # Shared anonymous memory (mmap's default) is shmem: a fault per page and slower
    # O_DIRECT writes. The mapping's flags say which it is ("rw-p" private, "rw-s" shared).
    import ctypes

    with direct_io.aligned_buffer(SEGMENT_BYTES) as buffer:
        address = ctypes.addressof(ctypes.c_char.from_buffer(buffer))
        assert address % direct_io.ALIGN == 0
        mapping = _mapping_of(address)
        del address
    assert mapping.split()[1] == "rw-p", mapping
    assert "/dev/zero" not in mapping
