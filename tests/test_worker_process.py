"""``koppel-server worker`` (issue 14): a process that runs only the job workers. A job
queued through the API of a server started with ``KOPPEL_WORKERS=0`` (it runs no jobs)
is made by a real worker process on the same data, on SQLite and on PostgreSQL; SIGTERM
stops the worker within seconds with status 0; it logs like the server
(``KOPPEL_LOG_FORMAT``) and refuses a database that is behind as the server does."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import create_engine

from dossier_support import queue_overview
from harness import BIN, Server, Workstation, make_server, run
from koppel.server.adapters.db import migrate

SCHEMA_BEHIND = 6


def start_worker(server: Server, *args: str, **env: str) -> tuple[subprocess.Popen[str], Path]:
    """A ``koppel-server worker`` process on the server's settings; its log file."""
    log = server.data_dir.parent / f"worker-{time.monotonic_ns()}.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(BIN / "koppel-server"), "worker", *args],
            env={**server.env, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    return process, log


def wait_for(log: Path, text: str, process: subprocess.Popen[str], seconds: float = 30) -> None:
    """Until ``text`` is in the log (the process must not end meanwhile)."""
    deadline = time.monotonic() + seconds
    while text not in log.read_text():
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)


@pytest.mark.parametrize(
    "engine", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_a_job_queued_through_a_server_without_workers_is_made_by_the_worker(
    engine: str, tmp_path: Path, workstation: Any, request: pytest.FixtureRequest
) -> None:
    srv: Server = make_server(tmp_path, process=True)
    if engine == "postgresql":
        cluster = request.getfixturevalue("postgres_cluster")
        srv.env["KOPPEL_DATABASE_URL"] = cluster.create_database(f"koppel_{tmp_path.name[-20:]}")
    srv.env["KOPPEL_WORKERS"] = "0"  # the replica runs no jobs: only the worker does
    srv.start("--demo")
    worker: subprocess.Popen[str] | None = None
    try:
        ws: Workstation = workstation()
        api, file_id = queue_overview(ws, srv)
        time.sleep(1.5)  # more than a worker's poll: the server itself makes nothing
        assert api.get("files").json()["files"][0]["state"] == "pending"

        worker, log = start_worker(srv, "--threads", "2", KOPPEL_LOG_FORMAT="json")
        deadline = time.monotonic() + 30
        while True:
            file = next(f for f in api.get("files").json()["files"] if f["id"] == file_id)
            if file["state"] != "pending" or time.monotonic() > deadline:
                break
            assert worker.poll() is None, log.read_text()
            time.sleep(0.2)
        assert file["state"] == "ready", (file, log.read_text())
        workbook = api.get(f"files/{file_id}/content")
        assert workbook.status_code == 200
        sheet = load_workbook(io.BytesIO(workbook.content), read_only=True)["Overview"]
        assert next(sheet.iter_rows(values_only=True))[0] == "Item"
        api.close()

        # SIGTERM: it stops within seconds, with status 0.
        asked = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(10) == 0, log.read_text()
        assert time.monotonic() - asked < 5
        worker = None
        # Its log lines are the server's (here JSON, one object a line, with a time).
        lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        messages = [line["message"] for line in lines]
        assert any("started with 2 threads" in m for m in messages), messages
        assert any("SIGTERM received" in m for m in messages), messages
        assert any(m.startswith("job worker") and m.endswith("stopped") for m in messages)
        assert all(line["time"].endswith("Z") and line["logger"] for line in lines)
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
            worker.wait()
        srv.stop()


def test_ctrl_c_stops_an_idle_worker_with_text_logs(tmp_path: Path) -> None:
    srv = make_server(tmp_path, process=True)
    worker, log = start_worker(srv)
    try:
        wait_for(log, "started with 1 thread", worker)
        worker.send_signal(signal.SIGINT)
        assert worker.wait(10) == 0, log.read_text()
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    first = next(line for line in log.read_text().splitlines() if "koppel.worker" in line)
    # 2026-12-03T15:42:21.123Z INFO koppel.worker [-] job worker host:pid started ...
    stamp, level, logger, request_id = first.split(" ")[:4]
    assert stamp.endswith("Z") and "T" in stamp, first
    assert (level, logger, request_id) == ("INFO", "koppel.worker", "[-]"), first


def test_the_worker_refuses_a_database_that_is_behind(tmp_path: Path) -> None:
    srv = make_server(tmp_path, process=True)
    srv.env["KOPPEL_AUTO_MIGRATE"] = "false"
    srv.data_dir.mkdir(parents=True)
    database = srv.data_dir / "koppel.sqlite3"
    engine = create_engine(f"sqlite:///{database}")
    migrate.upgrade(engine, "0005")  # a release ago
    engine.dispose()

    started = run([str(BIN / "koppel-server"), "worker"], srv.env, srv.data_dir)
    assert started.returncode == SCHEMA_BEHIND, started.output
    assert "koppel-admin db upgrade" in started.stderr and "this worker" in started.stderr
    assert "Traceback" not in started.output
    engine = create_engine(f"sqlite:///{database}")
    current, _ = migrate.revisions(engine)  # untouched
    engine.dispose()
    assert current == "0005"


def test_server_options_before_the_worker_command_are_refused(tmp_path: Path) -> None:
    srv = make_server(tmp_path, process=True)
    refused = run([str(BIN / "koppel-server"), "--port", "1", "worker"], srv.env, tmp_path)
    assert refused.returncode == 2
    assert "--port is for the server" in refused.stderr
    assert not srv.data_dir.exists()  # nothing was started or created


def test_an_invalid_setting_is_named_by_the_worker_and_the_server(tmp_path: Path) -> None:
    # Both read the same settings: a typo in a value ends either with exit 2 and the
    # variable named (the worker printed a traceback).
    server = make_server(tmp_path, process=True)
    server.env["KOPPEL_LOG_FORMAT"] = "jsno"
    for args in ([str(BIN / "koppel-server"), "worker"], [str(BIN / "koppel-server")]):
        refused = run(args, server.env, tmp_path)
        assert refused.returncode == 2, refused.output
        assert "invalid configuration: KOPPEL_LOG_FORMAT:" in refused.stderr
        assert "Traceback" not in refused.output
