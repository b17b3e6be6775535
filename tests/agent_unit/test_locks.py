"""The agent's file locks (``filelock``): the state's writers wait for each other, a
submission is sent by one process at a time, and a lock dies with its process. The
other holder is a real second process here. Windows' ``msvcrt`` locking is filelock's
and is not exercised on this machine; the calls are the same."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from koppel.agent.local import locks, queue
from koppel.agent.local import state as state_mod
from koppel.agent.local import status as status_mod
from koppel.agent.local.state import LinkedEnv
from koppel.agent.local.status import AgentStatus, ReceivedFile, ServerStatus

HOLD = """
import sys, time
from pathlib import Path
from koppel.agent.local import locks
with locks.exclusive(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


@contextmanager
def held_elsewhere(path: Path, seconds: float = 60) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the lock at ``path`` (killed at the end)."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == "held\n"
        yield process
    finally:
        process.kill()
        process.wait()


def _env(code: str) -> LinkedEnv:
    return LinkedEnv(
        code=code,
        name=code,
        kind="firm",
        update="2026.2",
        login="anna",
        display_name="Anna",
        api_url="http://127.0.0.1:1",
        main_site_url="http://127.0.0.1:1",
        token_store="file",
        linked_at="2026-12-03T10:00:00+00:00",
    )


def test_a_submission_is_claimed_by_one_process_and_freed_when_it_dies(
    agent_home: Path,
) -> None:
    lock = queue.folder() / "abc.lock"
    with held_elsewhere(lock) as other:
        with queue.claimed("abc") as mine:
            assert mine is False
        assert locks.is_held(lock)
        other.kill()  # no clean-up: the OS releases the lock of a dead process
        other.wait()
        with queue.claimed("abc") as mine:
            assert mine is True
            assert locks.is_held(lock)
    assert not locks.is_held(lock)


def test_the_state_writers_wait_for_each_other(agent_home: Path) -> None:
    with state_mod.locked() as loaded:
        loaded.state.environments["F10001"] = _env("F10001")
    lock = agent_home / "state.lock"
    with held_elsewhere(lock, seconds=1.0):
        started = time.monotonic()
        with state_mod.locked() as loaded:
            waited = time.monotonic() - started
            loaded.state.environments["C20001"] = _env("C20001")
    assert waited > 0.5, waited  # it waited for the other writer to finish
    assert set(state_mod.load().state.environments) == {"F10001", "C20001"}


def test_threads_of_one_process_exclude_each_other(agent_home: Path) -> None:
    order: list[str] = []
    lock = agent_home / "x.lock"

    def other() -> None:
        with locks.attempt(lock) as mine:
            order.append(f"other {mine}")

    with locks.exclusive(lock):
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        order.append("first")
    assert order == ["other False", "first"]


def test_the_lock_files_are_private(agent_home: Path) -> None:
    with queue.claimed("abc"):
        pass
    mode = (queue.folder() / "abc.lock").stat().st_mode & 0o777
    assert mode == 0o600 if os.name == "posix" else True


def test_status_round_trip_and_a_damaged_file(agent_home: Path) -> None:
    assert status_mod.read() is None
    status = AgentStatus(
        pid=42,
        updated_at="2026-12-03T11:00:00+00:00",
        servers={
            "http://a": ServerStatus(
                "http://a", "token_revoked", "Revoked.", "2026-12-03T10:59:00+00:00", {"C1": "x"}
            )
        },
        pending=2,
        received=[ReceivedFile(f"/f{n}", "F10001", "2026-12-03T10:00:00+00:00") for n in range(25)],
    )
    status_mod.write(status)
    again = status_mod.read()
    assert again is not None
    assert again.servers == status.servers and again.pending == 2 and again.pid == 42
    assert len(again.received) == status_mod.RECEIVED_KEPT  # the newest 20 are kept
    assert AgentStatus.from_json(again.to_json()) == again
    assert oct(status_mod.status_file().stat().st_mode & 0o777) == oct(0o600)

    status_mod.status_file().write_text("{not json")
    assert status_mod.read() is None
    status_mod.status_file().write_text(
        '{"pid": 1, "updated_at": "x", "servers": {"u": {"url": "u", "state": "newer"}}}'
    )
    read = status_mod.read()
    assert read is not None and read.servers["u"].state == "offline"
