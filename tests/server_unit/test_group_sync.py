"""Group commit of blob folder fsyncs: uploads completing together share one fsync of
their folder, each returns only once its rename is durable, and a failed fsync fails
every upload that waited for it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from koppel.server.adapters.blobs import LocalBlobStore
from koppel.server.adapters.blobs.group_sync import GroupSync, fsync_dir

N = 20


class _Syncs:
    """A folder sync that records its calls; the first one is held until released, so
    that the other commits queue behind it as they do under load."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[Path] = []
        self.synced_names: list[set[str]] = []  # the folder's entries at each sync
        self.release = threading.Event()
        self.fail = fail

    def __call__(self, folder: Path) -> None:
        first = not self.calls
        self.calls.append(folder)
        if first:
            self.release.wait(10)
        self.synced_names.append({p.name for p in folder.iterdir()})
        if self.fail:
            raise OSError(5, "Input/output error")
        fsync_dir(folder)


def _commit_concurrently(
    store: LocalBlobStore, group: GroupSync, syncs: _Syncs
) -> tuple[list[str], dict[str, BaseException]]:
    """Commit N partial blobs from N threads; the first holds its sync until the other
    N - 1 wait for the next round. Returns the keys returned from and the errors."""
    for i in range(N):
        store.append(f"uploads/u{i}", [b"x" * 20_000])
    returned: list[str] = []
    errors: dict[str, BaseException] = {}

    def commit(i: int) -> None:
        try:
            store.commit(f"uploads/u{i}", f"uploads/f{i}")
            returned.append(f"uploads/f{i}")
        except OSError as exc:
            errors[f"uploads/f{i}"] = exc

    threads = [threading.Thread(target=commit, args=(i,)) for i in range(N)]
    threads[0].start()
    _until(lambda: len(syncs.calls) == 1)  # the first commit leads and is syncing
    for thread in threads[1:]:
        thread.start()
    # Nobody returns while the leader syncs: the others' renames came after it began.
    _until(lambda: group.queued == N - 1)
    time.sleep(0.05)
    assert returned == [] and errors == {} and _renamed(store) == N
    syncs.release.set()
    for thread in threads:
        thread.join(10)
    return returned, errors


def _renamed(store: LocalBlobStore) -> int:
    return sum(1 for _ in (store.root / "blobs" / "uploads").iterdir())


def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_concurrent_commits_share_one_folder_fsync(tmp_path: Path) -> None:
    syncs = _Syncs()
    group = GroupSync(syncs)
    store = LocalBlobStore(tmp_path, folder_sync=group)
    returned, errors = _commit_concurrently(store, group, syncs)
    assert errors == {}
    assert sorted(returned) == sorted(f"uploads/f{i}" for i in range(N))
    # The leader's own round, then one round for the N - 1 that queued meanwhile.
    assert syncs.calls == [tmp_path / "blobs" / "uploads"] * 2
    # Every file was in the folder when the sync that released its caller ran.
    assert syncs.synced_names[-1] == {f"f{i}" for i in range(N)}
    for i in range(N):
        assert b"".join(store.read(f"uploads/f{i}")) == b"x" * 20_000


def test_a_failed_fsync_fails_every_commit_that_waited_for_it(tmp_path: Path) -> None:
    syncs = _Syncs(fail=True)
    group = GroupSync(syncs)
    store = LocalBlobStore(tmp_path, folder_sync=group)
    returned, errors = _commit_concurrently(store, group, syncs)
    assert returned == []  # nothing acknowledged that is not durable
    assert sorted(errors) == sorted(f"uploads/f{i}" for i in range(N))
    assert all(isinstance(e, OSError) and e.errno == 5 for e in errors.values())
    assert len(syncs.calls) == 2


def test_a_lone_commit_syncs_at_once_and_the_next_syncs_again(tmp_path: Path) -> None:
    calls: list[Path] = []
    store = LocalBlobStore(tmp_path, folder_sync=GroupSync(calls.append))
    for i in range(3):
        store.append(f"p{i}", [b"data"])
        store.commit(f"p{i}", f"k{i}")
    # One sync per commit when they come one after another: none waits for a later one.
    assert calls == [tmp_path / "blobs"] * 3


def test_folders_of_one_round_are_each_synced(tmp_path: Path) -> None:
    calls: list[Path] = []
    release = threading.Event()

    def sync(folder: Path) -> None:
        calls.append(folder)
        if len(calls) == 1:
            release.wait(10)

    group = GroupSync(sync)
    first = threading.Thread(target=group.sync, args=(tmp_path / "x",))
    first.start()
    _until(lambda: len(calls) == 1)
    others = [threading.Thread(target=group.sync, args=(tmp_path / n,)) for n in "aabb"]
    for thread in others:
        thread.start()
    _until(lambda: group.queued == 4)
    release.set()
    for thread in [first, *others]:
        thread.join(10)
    assert calls[0] == tmp_path / "x"
    assert sorted(calls[1:]) == [tmp_path / "a", tmp_path / "b"]


def test_the_default_sync_really_fsyncs_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    synced: list[int] = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd))[1])
    store = LocalBlobStore(tmp_path)
    store.append("p", [b"data"], sync=False)
    store.commit("p", "k")
    assert len(synced) == 1  # the folder's (the partial's own is sync_partial's job)
