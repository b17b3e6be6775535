"""The job worker: background threads that claim queued jobs and run them.

Each thread claims one job per transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL,
BEGIN IMMEDIATE on SQLite), runs it, and records the result with its events. It sleeps
until this process queues a job (``wake``) or for a second, so jobs queued by another
replica are found too.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable

from koppel.server.adapters.db.dossier_repository import SqlDossierRepository
from koppel.server.adapters.db.events_repository import SqlEventRepository
from koppel.server.adapters.db.jobs_repository import SqlJobRepository
from koppel.server.adapters.db.outbox_repository import SqlOutboxRepository
from koppel.server.adapters.xlsx_overview import render
from koppel.server.domain import analyses, dossier
from koppel.server.domain.jobs import MAX_ATTEMPTS, Job
from koppel.server.services import Services

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0


def store_bytes(svc: Services, content: bytes) -> analyses.Stored:
    """Write generated content to the blob store under a new committed key."""
    key = f"outbox/{uuid.uuid4().hex}"
    partial = f"outbox-{uuid.uuid4().hex}"
    size = svc.blobs.append(partial, [content])
    svc.blobs.commit(partial, key)
    return analyses.Stored(key, size, hashlib.sha256(content).hexdigest())


class Worker:
    """``count`` threads running jobs for one server process."""

    def __init__(
        self, svc: Services, count: int, on_event: Callable[[], None] = lambda: None
    ) -> None:
        self.svc = svc
        self.count = count
        self.on_event = on_event
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start the threads."""
        for number in range(self.count):
            thread = threading.Thread(
                target=self._loop, args=(f"{self.name}/{number}",), daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Let the threads finish their current job and end."""
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(10)

    def wake(self) -> None:
        """A job was queued in this process."""
        self._wake.set()

    def _loop(self, name: str) -> None:
        while not self._stop.is_set():
            try:
                worked = self.run_one(name)
            except Exception:  # a broken job must not stop the worker
                log.exception("job worker %s failed", name)
                worked = False
            if not worked:
                self._wake.wait(POLL_SECONDS)
                self._wake.clear()

    def run_one(self, name: str) -> bool:
        """Claim and run one job; False when none was queued."""
        svc = self.svc
        with svc.transaction() as repo:
            job = SqlJobRepository(repo.c).claim(name, svc.policy.clock())
        if job is None:
            return False
        try:
            self._run(job)
        except Exception as exc:
            log.exception("job %s (%s) failed", job.id, job.kind)
            self._failed(job, f"{type(exc).__name__}: {exc}")
        self.on_event()
        return True

    def _run(self, job: Job) -> None:
        svc = self.svc
        if job.kind != analyses.DOSSIER_OVERVIEW:
            raise ValueError(f"unknown job kind {job.kind!r}")
        # The rows are read and the file is made in one transaction with the result.
        with svc.transaction() as repo:
            dossier_repo = SqlDossierRepository(repo.c)
            analyses.run(
                job,
                SqlOutboxRepository(repo.c),
                SqlEventRepository(repo.c),
                svc.policy.clock(),
                rows=lambda reader, dest: dossier.overview(
                    dossier_repo, reader.environment_id, reader.membership_id, dest
                ),
                render=render,
                store=lambda content: store_bytes(svc, content),
            )
            SqlJobRepository(repo.c).finish(job.id, "done", svc.policy.clock(), None)

    def _failed(self, job: Job, reason: str) -> None:
        svc = self.svc
        with svc.transaction() as repo:
            jobs = SqlJobRepository(repo.c)
            outbox = SqlOutboxRepository(repo.c)
            if job.attempts < MAX_ATTEMPTS:
                # Try again later: back to the queue.
                jobs.finish(job.id, "queued", svc.policy.clock(), reason)
                return
            jobs.finish(job.id, "failed", svc.policy.clock(), reason)
            file = outbox.get(int(job.payload.get("file_id", 0)))
            if file is not None:
                analyses.fail(
                    outbox,
                    SqlEventRepository(repo.c),
                    file,
                    svc.policy.clock(),
                    "The analysis could not be made; ask the administrator to look at the "
                    "server log.",
                )
