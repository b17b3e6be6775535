"""The local blob store: appends survive, nothing is visible before commit, reads stream."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from koppel.server.adapters.blobs import LocalBlobStore
from koppel.server.domain.transfer.blobs import BlobNotFound, BlobStore


def test_partial_blobs_are_invisible_until_committed(tmp_path: Path) -> None:
    store: BlobStore = LocalBlobStore(tmp_path)
    assert store.append("up/1", [b"hello ", b"wor"]) == 9
    assert store.append("up/1", [b"ld"]) == 11
    assert store.partial_size("up/1") == 11
    with pytest.raises(BlobNotFound):
        store.size("files/1")
    store.commit("up/1", "files/1")
    assert store.partial_size("up/1") == 0
    assert b"".join(store.read("files/1")) == b"hello world"
    assert b"".join(store.read("files/1", 6, 9)) == b"wor"
    store.delete("files/1")
    with pytest.raises(BlobNotFound):
        list(store.read("files/1"))


def test_unsafe_keys_are_refused(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    for key in ("../escape", "/abs", "a/../../b", ""):
        with pytest.raises(ValueError):
            store.append(key, [b"x"])


@settings(max_examples=40, deadline=None)
@given(data=st.binary(max_size=5000), start=st.integers(0, 6000), length=st.integers(0, 6000))
def test_ranges_read_exactly_the_slice(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, start: int, length: int
) -> None:
    store = LocalBlobStore(tmp_path_factory.mktemp("blobs"))
    store.append("p", [data])
    store.commit("p", "k")
    assert b"".join(store.read("k", start, start + length)) == data[start : start + length]
