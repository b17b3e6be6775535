"""Fixtures of the agent unit tests: an isolated agent home and the real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .live_server import LiveServer


@pytest.fixture(autouse=True)
def agent_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own agent data folder and the file token store."""
    home = tmp_path / "agent-home"
    monkeypatch.setenv("KOPPEL_AGENT_HOME", str(home))
    monkeypatch.setenv("KOPPEL_TOKEN_STORE", "file")
    monkeypatch.delenv("KOPPEL_WORKSTATION_NAME", raising=False)
    monkeypatch.delenv("KOPPEL_PASSWORD", raising=False)
    return home


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    """The real server over a copy of the demo practice (F10001 and its clients C20001,
    C20002, C20003; anna administers them all)."""
    live = LiveServer(tmp_path).start()
    yield live
    live.close()
