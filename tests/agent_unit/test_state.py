"""Local state: format migration, agent-update takeover, atomic writes, the writers' lock."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest

from koppel.agent.errors import StateError
from koppel.agent.local import state
from koppel.agent.local.atomic import atomic_write_bytes, atomic_writer
from koppel.agent.version import AGENT_UPDATE_TEXT

V1_STATE = {
    "format": 1,
    "agent_update": AGENT_UPDATE_TEXT,
    "workstation": {"id": "0123456789abcdef", "name": "desk-7"},
    "environments": [
        {
            "code": "F10001",
            "name": "Firm",
            "kind": "firm",
            "update": AGENT_UPDATE_TEXT,
            "login": "anna",
            "display_name": "Anna",
            "api_url": "http://127.0.0.1:9",
            "main_site_url": "https://portal.example.com",
            "linked_at": "2026-01-02T03:04:05+00:00",
            "last_check": None,
            "last_state": None,
        },
        {
            "code": "C20001",
            "name": "Client",
            "kind": "client",
            "update": AGENT_UPDATE_TEXT,
            "login": "anna",
            "display_name": "Anna",
            "api_url": "http://127.0.0.1:9",
            "main_site_url": "https://portal.example.com",
            "linked_at": "2026-01-02T03:04:05+00:00",
        },
    ],
}


def write(home: Path, data: object) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "state.json").write_text(json.dumps(data))


def test_empty_state_when_nothing_linked(agent_home: Path) -> None:
    loaded = state.read()
    assert loaded.state.environments == {}
    assert not (agent_home / "state.json").exists()


def test_format_1_migrates_to_2_and_keeps_every_link(agent_home: Path) -> None:
    write(agent_home, V1_STATE)
    loaded = state.read()
    assert loaded.changed
    assert list(loaded.state.environments) == ["F10001", "C20001"]
    # Format 1 had only the token file.
    assert {env.token_store for env in loaded.state.environments.values()} == {"file"}
    assert loaded.state.workstation == state.Workstation("0123456789abcdef", "desk-7")
    written = json.loads((agent_home / "state.json").read_text())
    assert written["format"] == state.CURRENT_FORMAT == 2
    assert set(written["environments"]) == {"F10001", "C20001"}
    assert written["environments"]["C20001"]["token_store"] == "file"
    # A second read finds nothing more to migrate.
    assert not state.read().changed


def test_newer_format_is_refused(agent_home: Path) -> None:
    write(agent_home, {**V1_STATE, "format": 99, "environments": {}})
    with pytest.raises(StateError, match="newer Koppel agent"):
        state.read()
    # The file is left untouched for the newer agent.
    assert json.loads((agent_home / "state.json").read_text())["format"] == 99


def test_state_of_an_older_agent_update_is_taken_over(agent_home: Path) -> None:
    data = state.parse_state({**V1_STATE, "agent_update": "2026.1"}).state.to_json()
    data["agent_update"] = "2026.1"
    for env in data["environments"].values():
        env["update"] = "2026.1"
    write(agent_home, data)
    loaded = state.read()
    assert loaded.changed
    assert loaded.state.agent_update == AGENT_UPDATE_TEXT
    assert loaded.state.previous_agent_update == "2026.1"
    assert len(loaded.state.environments) == 2
    assert {env.code for env in loaded.state.needs_refresh()} == {"F10001", "C20001"}
    assert any("All 2 links are kept" in note for note in loaded.notes)
    assert json.loads((agent_home / "state.json").read_text())["agent_update"] == AGENT_UPDATE_TEXT


def test_damaged_state_says_what_to_do(agent_home: Path) -> None:
    agent_home.mkdir(parents=True)
    (agent_home / "state.json").write_text("{not json")
    with pytest.raises(StateError, match="koppel link"):
        state.read()


def test_locked_saves_and_is_private(agent_home: Path) -> None:
    with state.locked() as loaded:
        loaded.state.ensure_workstation("desk-1")
    path = agent_home / "state.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = state.read().state
    assert again.workstation is not None and again.workstation.name == "desk-1"
    assert len(again.workstation.id) >= 8


def test_locked_does_not_save_when_the_block_fails(agent_home: Path) -> None:
    with state.locked() as loaded:
        loaded.state.ensure_workstation("kept")
    with pytest.raises(RuntimeError), state.locked() as loaded:
        loaded.state.ensure_workstation("lost")
        raise RuntimeError
    workstation = state.read().state.workstation
    assert workstation is not None and workstation.name == "kept"


def test_concurrent_writers_do_not_lose_updates(agent_home: Path) -> None:
    def add(i: int) -> None:
        with state.locked() as loaded:
            loaded.state.environments[f"C{i:05}"] = state.LinkedEnv(
                f"C{i:05}", "n", "client", AGENT_UPDATE_TEXT, "anna", "Anna",
                "http://127.0.0.1:9", "", "file", state.now_iso(),
            )  # fmt: skip

    threads = [threading.Thread(target=add, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(state.read().state.environments) == 20


def test_atomic_write_replaces_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    atomic_write_bytes(target, b"old")
    with pytest.raises(ValueError), atomic_writer(target) as handle:
        handle.write(b"half")
        raise ValueError
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f.json"]  # the temporary file is gone
    atomic_write_bytes(target, b"new", mode=0o644)
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
