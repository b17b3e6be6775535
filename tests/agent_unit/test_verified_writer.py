"""The download writer: the bytes on disk and the digest are those of the chunks."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from koppel.agent.local.verified_writer import VerifiedWriter


@pytest.mark.parametrize("sizes", [[], [1], [65536] * 3, [1 << 20] * 20 + [123]])
def test_file_and_digest_match_the_chunks(tmp_path: Path, sizes: list[int]) -> None:
    chunks = [os.urandom(n) for n in sizes]
    target = tmp_path / "out.bin"
    with target.open("wb") as handle, VerifiedWriter(handle) as out:
        for chunk in chunks:
            out.write(chunk)
        digest = out.hexdigest()
        assert out.hexdigest() == digest  # asking twice is fine
    whole = b"".join(chunks)
    assert digest == hashlib.sha256(whole).hexdigest()
    assert out.size == len(whole)
    assert target.read_bytes() == whole


def test_an_error_midway_ends_the_hashing_thread(tmp_path: Path) -> None:
    handle = (tmp_path / "x").open("wb")
    writer = VerifiedWriter(handle)
    with pytest.raises(RuntimeError), handle, writer as out:
        out.write(b"part")
        raise RuntimeError("connection lost")
    assert not writer._thread.is_alive()
