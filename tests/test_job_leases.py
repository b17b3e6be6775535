"""Job leases: a job whose worker died (it claimed the job and never finished) is claimed
again by any worker once its lease lapsed (a minute by default, not 15), and yields
exactly one ready file; the dead worker's late result is refused (its claim's lease token
no longer holds the job). In process with the moving clock, on SQLite and PostgreSQL;
and once with a real ``koppel-server`` killed with SIGKILL while it holds a job.
"""

from __future__ import annotations

import io
import signal
import socket
import sqlite3
import time
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from api_in_process import AgentApi
from app_client import InProcess, bearer, make_in_process
from dossier_support import queue_overview
from harness import Server, Workstation, make_server
from koppel.server.adapters import worker as worker_module
from koppel.server.adapters.db.database import Database
from koppel.server.adapters.db.tables import my_files as t
from koppel.server.adapters.secret_key import KeySource
from koppel.server.adapters.worker import Lease, Worker
from koppel.server.domain.jobs.model import MAX_ATTEMPTS
from koppel.server.domain.policy import utc_now

LEASE = timedelta(seconds=60)  # the default of KOPPEL_JOB_LEASE_SECONDS


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[InProcess]:
    """The demo app in process, on SQLite or on a fresh PostgreSQL database."""
    settings: dict[str, Any] = {}
    if request.param == "postgresql":
        cluster = request.getfixturevalue("postgres_cluster")
        settings["database_url"] = cluster.create_database(f"koppel_{tmp_path.name[-20:]}")
    made = make_in_process(tmp_path / "server", **settings)
    try:
        yield made
    finally:
        made.close()


def request_overview(app: InProcess) -> int:
    """anna asks for the dossier overview of F10001; its (pending) file's id."""
    answer = app.client().post(
        "/api/v1/environments/F10001/analyses",
        headers=bearer(app.token("F10001", "anna")),
        json={"kind": "dossier-overview"},
    )
    assert answer.status_code == 202, answer.text
    return int(answer.json()["file_id"])


def files(app: InProcess) -> list[dict[str, Any]]:
    """Every row of My files."""
    with app.sql() as connection:
        return [dict(r._mapping) for r in connection.execute(select(t.output_files))]


def file_events(app: InProcess, file_id: int) -> list[str]:
    """The kinds of the events about one file, oldest first."""
    with app.sql() as connection:
        rows = connection.execute(select(t.events).order_by(t.events.c.id)).all()
    return [r.kind for r in rows if r.payload.get("file_id") == file_id]


def job_row(app: InProcess) -> dict[str, Any]:
    """The only job."""
    with app.sql() as connection:
        (row,) = connection.execute(select(t.jobs)).all()
    return dict(row._mapping)


def outbox_blobs(app: InProcess) -> list[Path]:
    """Committed blobs of generated files (orphans included; stored under the old name `outbox`)."""
    return sorted((app.svc.settings.data_dir / "blobs" / "blobs" / "outbox").glob("*"))


def assert_one_ready_file(app: InProcess, file_id: int) -> dict[str, Any]:
    """Exactly one output file, ready once, its content the only generated blob."""
    (file,) = files(app)
    assert file["id"] == file_id and file["state"] == "ready", file
    assert file_events(app, file_id) == ["file_ready"]
    assert [p.name for p in outbox_blobs(app)] == [file["blob_key"].split("/")[-1]]
    return file


def test_a_job_whose_worker_died_is_taken_again_once_its_lease_lapsed(app: InProcess) -> None:
    file_id = request_overview(app)
    dead = Worker(app.svc, 0)
    claimed = dead.claim("gone-host:4242/0")  # and then its process dies
    assert claimed is not None and claimed.lease_expires_at == app.clock() + LEASE

    assert app.run_jobs() == 0  # held: nobody else takes it
    app.clock.advance(seconds=LEASE.total_seconds() - 1)
    assert app.run_jobs() == 0
    app.clock.advance(seconds=2)  # the lease lapsed
    assert app.run_jobs() == 1
    file = assert_one_ready_file(app, file_id)
    job = job_row(app)
    assert (job["state"], job["attempts"], job["claimed_by"]) == ("done", 2, "test-worker")

    # The dead worker comes back (it was only stuck): its run stops at its first
    # heartbeat, its finish is refused, and the file is untouched.
    assert dead.run(claimed) is False
    with app.transaction() as uow:
        jobs = uow.jobs
        assert jobs.renew(claimed, app.clock() + LEASE) is False
        assert jobs.finish(claimed, "done", app.clock(), None) is False
    assert assert_one_ready_file(app, file_id) == file
    assert job_row(app) == job


def test_the_old_claim_is_refused_while_the_new_one_runs(app: InProcess) -> None:
    file_id = request_overview(app)
    first = Worker(app.svc, 0)
    old = first.claim("first-worker")
    assert old is not None
    app.clock.advance(seconds=LEASE.total_seconds() + 1)
    second = Worker(app.svc, 0)
    new = second.claim("second-worker")  # the same job, still running
    assert new is not None and new.id == old.id and new.attempts == 2
    assert new.lease_token != old.lease_token
    with app.transaction() as uow:
        jobs = uow.jobs
        assert jobs.renew(old, app.clock() + LEASE) is False
        assert jobs.finish(old, "done", app.clock(), None) is False
        assert jobs.finish(old, "queued", app.clock(), "late failure") is False
    assert first.run(old) is False
    assert files(app)[0]["state"] == "pending" and not outbox_blobs(app)
    assert second.run(new) is True
    assert_one_ready_file(app, file_id)
    assert job_row(app)["claimed_by"] == "second-worker"


def test_a_late_finish_after_a_takeover_is_refused(
    app: InProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first worker is slow between its last heartbeat and its finish: meanwhile its
    lease lapses and a second worker claims the job. The first worker's finish is
    refused and its content deleted; the second makes the one file. The interleaving is
    made by wrapping the real ``store_bytes``: the takeover happens while the first
    worker stores its content."""
    file_id = request_overview(app)
    store_bytes = worker_module.store_bytes
    second = Worker(app.svc, 0)
    taken_over = []

    def slow_store(svc: Any, content: bytes) -> Any:
        stored = store_bytes(svc, content)
        if not taken_over:  # only the first worker's store is slow
            app.clock.advance(seconds=LEASE.total_seconds() + 1)
            taken_over.append(second.claim("second-worker"))
        return stored

    monkeypatch.setattr(worker_module, "store_bytes", slow_store)
    first = Worker(app.svc, 0)
    claimed = first.claim("first-worker")
    assert claimed is not None
    assert first.run(claimed) is False
    (new,) = taken_over
    assert new is not None and new.id == claimed.id
    assert files(app)[0]["state"] == "pending" and not outbox_blobs(app)
    assert not file_events(app, file_id)
    assert second.run(new) is True
    assert_one_ready_file(app, file_id)
    job = job_row(app)
    assert (job["state"], job["attempts"], job["claimed_by"]) == ("done", 2, "second-worker")


def test_the_worker_s_heartbeat_keeps_its_lease(demo_app: InProcess) -> None:
    file_id = request_overview(demo_app)
    running = Worker(demo_app.svc, 0)
    claimed = running.claim("busy-worker")
    assert claimed is not None
    lease = Lease(demo_app.svc, claimed)
    demo_app.clock.advance(seconds=10)
    lease.beat()  # not due yet (a third of the lease): nothing renewed
    assert job_row(demo_app)["lease_expires_at"] == claimed.started_at + LEASE
    demo_app.clock.advance(seconds=20)
    lease.beat()
    assert job_row(demo_app)["lease_expires_at"] == demo_app.clock() + LEASE
    demo_app.clock.advance(seconds=50)  # 80 s after the claim, 50 after the renewal
    assert demo_app.run_jobs() == 0
    assert running.run(claimed) is True
    assert_one_ready_file(demo_app, file_id)
    assert job_row(demo_app)["attempts"] == 1


def test_a_job_longer_than_its_lease_keeps_it_by_heartbeats(
    demo_app: InProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Making the workbook takes three leases' time (the real ``render``, wrapped to move
    the clock by half a lease per row); meanwhile other workers look for jobs and find
    none: the running thread's heartbeats keep its lease."""
    anna = AgentApi(demo_app, "F10001", "anna")
    items = [anna.file_item(f"Brief {n}", "Correspondence", "ORG") for n in range(6)]
    file_id = request_overview(demo_app)
    render = worker_module.render
    others_found = []

    def slow_render(rows: Iterable[Any]) -> bytes:
        def slow() -> Iterator[Any]:
            for row in rows:
                demo_app.clock.advance(seconds=LEASE.total_seconds() / 2)
                others_found.append(demo_app.run_jobs())
                yield row

        return render(slow())

    monkeypatch.setattr(worker_module, "render", slow_render)
    started = demo_app.clock()
    assert demo_app.run_jobs() == 1
    assert demo_app.clock() - started >= 3 * LEASE
    assert others_found == [0] * len(items)
    assert_one_ready_file(demo_app, file_id)
    job = job_row(demo_app)
    assert (job["state"], job["attempts"]) == ("done", 1)


def test_a_job_whose_workers_keep_dying_fails(demo_app: InProcess) -> None:
    file_id = request_overview(demo_app)
    for number in range(MAX_ATTEMPTS):
        assert Worker(demo_app.svc, 0).claim(f"gone-{number}") is not None
        demo_app.clock.advance(seconds=LEASE.total_seconds() + 1)
    assert demo_app.run_jobs() == 1
    (file,) = files(demo_app)
    assert file["state"] == "failed" and "administrator" in file["error"]
    assert file_events(demo_app, file_id) == ["file_failed"]
    job = job_row(demo_app)
    assert (job["state"], job["attempts"]) == ("failed", MAX_ATTEMPTS + 1)
    assert "stopped" in job["error"] and not outbox_blobs(demo_app)


def test_a_job_claimed_before_leases_keeps_the_old_rule(demo_app: InProcess) -> None:
    """A running job without a lease was claimed by a release before migration 0007 (a
    replica not yet upgraded may still run it): taken again 15 minutes after it started."""
    file_id = request_overview(demo_app)
    claimed = Worker(demo_app.svc, 0).claim("old-release:7/0")
    assert claimed is not None
    with demo_app.sql() as connection:
        connection.execute(t.jobs.update().values(lease_token=None, lease_expires_at=None))
    demo_app.clock.advance(minutes=14)
    assert demo_app.run_jobs() == 0
    demo_app.clock.advance(minutes=2)
    assert demo_app.run_jobs() == 1
    assert_one_ready_file(demo_app, file_id)


# --- a real server process

SHORT_LEASE = 8  # seconds; KOPPEL_JOB_LEASE_SECONDS of the real server below


def test_a_killed_server_s_job_is_made_after_restart_within_the_lease(
    tmp_path: Path, workstation: Any
) -> None:
    """The server's worker thread holds the job when the process is killed: the test
    claims the job in the database under that thread's name, as the killed process
    left it (the server itself runs no worker then, so the claim is the test's)."""
    srv: Server = make_server(tmp_path, process=True)
    srv.env.update(KOPPEL_JOB_LEASE_SECONDS=str(SHORT_LEASE), KOPPEL_WORKERS="0")
    srv.start("--demo")
    try:
        ws: Workstation = workstation()
        api, file_id = queue_overview(ws, srv)

        database = Database(
            f"sqlite:///{srv.data_dir / 'koppel.sqlite3'}", KeySource(srv.data_dir / "secret.key")
        )
        assert srv.process is not None
        thread = f"{socket.gethostname()}:{srv.process.pid}/0"
        with database.transaction() as uow:
            held = uow.jobs.claim(thread, utc_now(), timedelta(seconds=SHORT_LEASE))
        claimed_at = time.monotonic()
        database.dispose()
        assert held is not None and held.lease_expires_at is not None

        srv.process.send_signal(signal.SIGKILL)
        srv.process.wait(10)
        srv.process = None
        del srv.env["KOPPEL_WORKERS"]  # the default: one worker thread
        srv.start()

        while True:
            file = next(f for f in api.get("files").json()["files"] if f["id"] == file_id)
            waited = time.monotonic() - claimed_at
            if file["state"] != "pending" or waited > SHORT_LEASE + 10:
                break
            time.sleep(0.2)
        assert file["state"] == "ready", file
        assert waited <= SHORT_LEASE + 5, f"ready {waited:.1f} s after the claim"
        workbook = api.get(f"files/{file_id}/content")
        assert workbook.status_code == 200
        sheet = load_workbook(io.BytesIO(workbook.content), read_only=True)["Overview"]
        assert next(sheet.iter_rows(values_only=True))[0] == "Item"
        assert len(api.get("files").json()["files"]) == 1

        with sqlite3.connect(srv.data_dir / "koppel.sqlite3") as db:
            state, attempts, claimed_by, started = db.execute(
                "select state, attempts, claimed_by, started_at from jobs"
            ).fetchone()
            ready_events = db.execute(
                "select count(*) from events where kind = 'file_ready'"
            ).fetchone()[0]
        assert (state, attempts, ready_events) == ("done", 2, 1)
        assert claimed_by != thread  # the restarted server's worker took it over
        # ... and only once the killed worker's lease had lapsed.
        assert datetime.fromisoformat(started) >= held.lease_expires_at.replace(tzinfo=None)
        api.close()
    finally:
        srv.stop()
