"""Several replicas behind one address (issue 14): two ``koppel-server`` processes on two
ports share one PostgreSQL database and one S3 bucket (moto's server on loopback;
production uses AWS S3, MinIO or Ceph RGW),
and any replica serves any request: an upload begun on A is finished on B, a token
revoked through A is refused by B at once, an event recorded by A's worker reaches a
stream on B through PostgreSQL's notifications, and a job whose worker died on A is done
once by B. The mechanisms beneath (the upload's writer claim, LISTEN/NOTIFY) are tested
on the real engines too."""

from __future__ import annotations

import base64
import hashlib
import os
import queue
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

import postgres
from app_client import UPDATE, make_in_process
from dossier_support import Api, link, open_event_session
from harness import Server, Workstation, free_port, make_server
from koppel.server.adapters.db.database import Database
from koppel.server.adapters.db.notifications import Listener
from koppel.server.adapters.secret_key import KeySource

pytestmark = pytest.mark.postgres
Ws = Callable[..., Workstation]
LEASE_SECONDS = 6


class Replicas:
    """Replicas A and B of one host: one database, one data folder, one public address."""

    def __init__(self, a: Server, b: Server) -> None:
        self.a, self.b = a, b

    def database(self) -> Database:
        """The shared database, as the replicas open it."""
        return Database(
            self.a.env["KOPPEL_DATABASE_URL"], KeySource(self.a.data_dir / "secret.key")
        )


@pytest.fixture
def replicas(
    postgres_cluster: postgres.Cluster, s3_endpoint: Any, tmp_path: Path
) -> Iterator[Replicas]:
    url = postgres_cluster.create_database(f"koppel_{uuid.uuid4().hex[:8]}")
    a = make_server(tmp_path, database_url=url, process=True)  # with s3's AWS_* variables
    a.env["KOPPEL_BLOB_URL"] = s3_endpoint.new_bucket()
    a.env["KOPPEL_JOB_LEASE_SECONDS"] = str(LEASE_SECONDS)
    a.start("--demo")
    # B: another process on another port; the same database, folder and public address.
    b = Server(a.data_dir, free_port(), dict(a.env))
    b.env["KOPPEL_PORT"] = str(b.port)
    b.log = a.data_dir / "server-b.log"
    b.start()
    try:
        yield Replicas(a, b)
    finally:
        b.stop()
        a.stop()


def _api(server: Server, env: str, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{server.url}/api/v1/environments/{env}",
        headers={**UPDATE, "Authorization": f"Bearer {token}"},
        timeout=30,
    )


def test_an_upload_begun_on_one_replica_is_finished_on_the_other(
    replicas: Replicas, workstation: Ws
) -> None:
    token = link(workstation(), replicas.a, "C20001", "anna")
    data = os.urandom(3 * 1024 * 1024 + 123)
    half = len(data) // 2
    tus = {"Tus-Resumable": "1.0.0"}
    name = base64.b64encode(b"scan.pdf").decode()
    with _api(replicas.a, "C20001", token) as on_a, _api(replicas.b, "C20001", token) as on_b:
        created = on_a.post(
            "uploads",
            headers={**tus, "Upload-Length": str(len(data)), "Upload-Metadata": f"filename {name}"},
        )
        assert created.status_code == 201, created.text
        upload = created.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
        patch = {**tus, "Content-Type": "application/offset+octet-stream"}
        first = on_a.patch(
            f"uploads/{upload}", content=data[:half], headers={**patch, "Upload-Offset": "0"}
        )
        assert first.status_code == 204, first.text
        state = on_b.head(f"uploads/{upload}", headers=tus)
        assert state.headers["Upload-Offset"] == str(half)
        rest = on_b.patch(
            f"uploads/{upload}", content=data[half:], headers={**patch, "Upload-Offset": str(half)}
        )
        assert rest.status_code == 204, rest.text
        item = on_b.post(
            "items",
            json={
                "submission_id": uuid.uuid4().hex,
                "subject": "Across replicas",
                "type": "Invoice",
                "destination": "D0001",
                "uploads": [upload],
            },
        )
        assert item.status_code == 201, item.text
        attachment = item.json()["attachments"][0]
        assert attachment["current"]["sha256"] == hashlib.sha256(data).hexdigest()
        url = f"items/{item.json()['id']}/attachments/{attachment['id']}/content"
        assert on_a.get(url).content == data


def test_a_token_revoked_through_one_replica_is_refused_by_the_other_at_once(
    replicas: Replicas, workstation: Ws
) -> None:
    ws = workstation()
    token = link(ws, replicas.a, "C20002", "anna")
    with _api(replicas.b, "C20002", token) as on_b:
        assert on_b.get("items").status_code == 200
        ws.ok("unlink", "C20002")  # through A, the address the agent knows
        refused = on_b.get("items")
    assert refused.status_code == 401 and refused.json()["code"] == "token_revoked"


def _stream_lines(server: Server, session: str, lines: queue.Queue[tuple[float, str]]) -> None:
    with httpx.Client(timeout=httpx.Timeout(10, read=60)) as client:
        path = f"{server.url}/api/v1/events/{session}"
        with client.stream("GET", path, headers=UPDATE) as stream:
            for line in stream.iter_lines():
                lines.put((time.monotonic(), line))


def test_an_event_from_a_worker_on_one_replica_reaches_a_stream_on_the_other(
    replicas: Replicas, workstation: Ws
) -> None:
    ws = workstation()
    token = link(ws, replicas.a, "F10001", "anna")
    session = open_event_session(replicas.b.url, ws, "F10001", token)
    lines: queue.Queue[tuple[float, str]] = queue.Queue()
    reader = threading.Thread(target=_stream_lines, args=(replicas.b, session, lines), daemon=True)
    reader.start()
    assert lines.get(timeout=10)[1].startswith("retry:")  # B's stream is open

    with _api(replicas.a, "F10001", token) as on_a:
        asked = on_a.post("analyses", json={"kind": "dossier-overview"})
        assert asked.status_code == 202, asked.text
        file_id = asked.json()["file_id"]
        while True:  # A's worker makes the file and records file_ready
            files = on_a.get("files").json()["files"]
            if next(f for f in files if f["id"] == file_id)["state"] == "ready":
                ready_at = time.monotonic()
                break
            time.sleep(0.02)
    while True:
        at, line = lines.get(timeout=15)
        if "file_ready" in line:
            break
    # Far sooner than B's safety poll (30 s): the notification woke it.
    assert at - ready_at < 5, f"delivered {at - ready_at:.2f} s after the file was ready"


def test_a_job_whose_worker_died_on_one_replica_is_done_once_by_the_other(
    replicas: Replicas, workstation: Ws
) -> None:
    a, b = replicas.a, replicas.b
    token = link(workstation(), a, "F10001", "anna")
    # A's worker holds the job when A is killed: the test claims it in the database
    # under A's worker's name, as the killed process left it. B's worker must not take
    # it before that lease lapses, then must make it exactly once.
    b.stop()
    database = replicas.database()
    with _api(a, "F10001", token) as on_a:
        a.stop()
        a.env["KOPPEL_WORKERS"] = "0"
        a.start()
        asked = on_a.post("analyses", json={"kind": "dossier-overview"})
        assert asked.status_code == 202, asked.text
        file_id = asked.json()["file_id"]
        assert a.process is not None
        with database.transaction() as uow:
            held = uow.jobs.claim(
                f"{socket.gethostname()}:{a.process.pid}/0",
                datetime.now(UTC),
                timedelta(seconds=LEASE_SECONDS),
            )
        assert held is not None
        a.process.send_signal(signal.SIGKILL)
        a.process.wait(10)
        a.process = None
    b.start()
    try:
        with _api(b, "F10001", token) as on_b:
            deadline = time.monotonic() + LEASE_SECONDS + 20
            while time.monotonic() < deadline:
                found = next(f for f in on_b.get("files").json()["files"] if f["id"] == file_id)
                if found["state"] != "pending":
                    break
                time.sleep(0.2)
            assert found["state"] == "ready", found
            assert on_b.get(f"files/{file_id}/content").status_code == 200
        with database.transaction() as uow:
            assert uow.jobs.count("done") == 1 and uow.jobs.backlog()[0] == 0
    finally:
        database.dispose()


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_one_writer_per_upload_across_replicas(
    engine: str, postgres_cluster: postgres.Cluster, tmp_path: Path
) -> None:
    settings = {}
    if engine == "postgresql":
        settings["database_url"] = postgres_cluster.create_database(
            f"koppel_{uuid.uuid4().hex[:8]}"
        )
    app = make_in_process(tmp_path / "server", **settings)
    # B: a second pool on the same database, as another replica holds one.
    other = Database(
        app.svc.settings.resolved_database_url,
        KeySource(app.svc.settings.resolved_secret_key_file),
    )
    try:
        upload = Api(app, "C20001", app.token("C20001")).upload("a.pdf", b"x" * 10)
        now = datetime.now(UTC)
        lease = timedelta(seconds=30)
        with app.transaction() as uow:
            assert uow.uploads.claim_writer(upload, "writer-a", now, now + lease)
            assert uow.uploads.claim_writer(upload, "writer-a", now, now + lease)  # renewed
        with other.transaction() as uow:
            assert not uow.uploads.claim_writer(upload, "writer-b", now, now + lease)
            uow.uploads.release_writer(upload, "writer-b")  # not B's: changes nothing
        with other.transaction() as uow:
            assert not uow.uploads.claim_writer(upload, "writer-b", now, now + lease)
            # A's claim lapsed (its replica died mid-request): B gets the upload.
            later = now + lease + timedelta(seconds=1)
            assert uow.uploads.claim_writer(upload, "writer-b", later, later + lease)
        with app.transaction() as uow:
            assert not uow.uploads.claim_writer(upload, "writer-a", later, later + lease)
        with other.transaction() as uow:
            uow.uploads.release_writer(upload, "writer-b")
        with app.transaction() as uow:
            assert uow.uploads.claim_writer(upload, "writer-a", later, later + lease)
    finally:
        other.dispose()
        app.close()


def test_a_listener_is_woken_by_a_commit_of_another_connection(
    postgres_cluster: postgres.Cluster, tmp_path: Path
) -> None:
    url = postgres_cluster.create_database(f"koppel_{uuid.uuid4().hex[:8]}")
    app = make_in_process(tmp_path / "server", database_url=url)
    woken: queue.Queue[tuple[float, str]] = queue.Queue()
    listener = Listener(url, lambda what: woken.put((time.monotonic(), what)))
    listener.start()
    try:
        assert listener.listening.wait(10)
        with app.transaction() as uow:
            uow.jobs.enqueue("dossier-overview", {}, datetime.now(UTC))
            sent = time.monotonic()
            assert woken.empty()  # not before the commit
        at, what = woken.get(timeout=5)
        assert what == "jobs" and at >= sent
        with pytest.raises(RuntimeError), app.transaction() as uow:
            uow.jobs.enqueue("dossier-overview", {}, datetime.now(UTC))
            raise RuntimeError("rolled back")
        with pytest.raises(queue.Empty):
            woken.get(timeout=1)  # a rolled-back transaction tells nobody
    finally:
        listener.stop()
        app.close()
