"""The same procedure on PostgreSQL 15: migrations, the demo practice, linking, checks,
and single use of an enrollment code under concurrent link calls."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import postgres
from harness import Server, Workstation, make_server

Ws = Callable[..., Workstation]

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_server(postgres_cluster: postgres.Cluster, tmp_path: Path) -> Iterator[Server]:
    url = postgres_cluster.create_database(f"koppel_{uuid.uuid4().hex[:8]}")
    srv = make_server(tmp_path, database_url=url).start("--demo")
    try:
        yield srv
    finally:
        srv.stop()


def test_procedure_and_linking_on_postgresql(pg_server: Server, workstation: Ws) -> None:
    srv, ws = pg_server, workstation()
    assert srv.admin("db", "status").returncode == 0
    assert not (srv.data_dir / "koppel.sqlite3").exists()
    check = srv.ok("check", "--all", "--json").json()
    assert len(check["environments"]) == 4 and all(e["complete"] for e in check["environments"])

    ws.ok("link", str(ws.save_settings(srv, "F10001", "anna")))
    ws.ok("link", str(ws.save_settings(srv, "F10001", "anna", bundle=True)))
    assert ws.ok("doctor", "--json").json()["checked"] == 4
    srv.ok("tokens", "revoke", "C20002", "--user", "anna")
    assert ws.koppel("info", "C20002").returncode == 5


def test_an_enrollment_code_links_once_under_concurrency(
    pg_server: Server, workstation: Ws
) -> None:
    settings = workstation("maker").save_settings(pg_server, "C20001", "anna")
    stations = [workstation(f"ws{i}") for i in range(4)]
    for ws in stations:
        (ws.home / "c.koppel").write_text(settings.read_text())
    with ThreadPoolExecutor(len(stations)) as pool:
        results = list(pool.map(lambda w: w.koppel("link", str(w.home / "c.koppel")), stations))
    assert sorted(r.returncode for r in results) == [0, 8, 8, 8], [r.output for r in results]
    tokens = pg_server.ok("tokens", "list", "C20001", "--json").json()["tokens"]
    assert len(tokens) == 1
    assert json.loads(settings.read_text())["environment"]["code"] == "C20001"
