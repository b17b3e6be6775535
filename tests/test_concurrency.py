"""Concurrent use on the embedded default (SQLite in WAL mode)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from harness import Server, Workstation

Ws = Callable[..., Workstation]


def test_an_enrollment_code_links_once_under_concurrency(
    demo_server: Server, workstation: Ws
) -> None:
    settings = workstation("maker").save_settings(demo_server, "C20001", "anna")
    stations = [workstation(f"ws{i}") for i in range(4)]
    for ws in stations:
        (ws.home / "c.koppel").write_text(settings.read_text())
    with ThreadPoolExecutor(len(stations)) as pool:
        results = list(pool.map(lambda w: w.koppel("link", str(w.home / "c.koppel")), stations))
    assert sorted(r.returncode for r in results) == [0, 8, 8, 8], [r.output for r in results]
    assert len(demo_server.ok("tokens", "list", "C20001", "--json").json()["tokens"]) == 1
