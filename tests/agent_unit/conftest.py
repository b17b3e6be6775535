"""Fixtures of the agent unit tests: an isolated agent home and a fake server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .fake_server import FakeServer


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
def server() -> Iterator[FakeServer]:
    """A fake koppel-server on a free loopback port."""
    fake = FakeServer().start()
    yield fake
    fake.stop()
