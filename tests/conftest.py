"""Fixtures: real servers and workstations, stopped by the tests that start them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness import Server, Workstation, make_server, make_workstation


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """A fresh, empty server on a free loopback port."""
    srv = make_server(tmp_path).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[Server]:
    """A server with the demo practice (firm F10001, clients C20001-3, anna and bram)."""
    srv = make_server(tmp_path).start("--demo")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def workstation(tmp_path: Path) -> Callable[..., Workstation]:
    """Make workstations (isolated OS users) by name."""

    def make(name: str = "laptop", **extra: str) -> Workstation:
        return make_workstation(tmp_path, name, **extra)

    return make
