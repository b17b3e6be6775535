"""The job worker: background threads that claim jobs and run them.

Each thread claims one job per transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL,
BEGIN IMMEDIATE on SQLite) under a lease of ``job_lease_seconds``, runs it, and records
the result with its events. The thread that runs a job renews the lease as it goes (a
heartbeat every third of the lease), so a job whose worker died (a crash, a killed
replica) is claimed again by any worker soon after its lease lapsed. The result is kept
only by the transaction that finishes the job under its claim's lease token: a worker
that lost its lease changes nothing.

A thread sleeps until this process queues a job (``wake``) or for a second, so jobs
queued by another replica, and lapsed leases, are found too.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from koppel.i18n import N_, use_language, use_time_zone
from koppel.server.adapters import reset_mail_job
from koppel.server.adapters.mail import mailer
from koppel.server.adapters.xlsx_overview import render
from koppel.server.domain.dossier import items as dossier
from koppel.server.domain.jobs import analyses
from koppel.server.domain.jobs.model import MAX_ATTEMPTS, Job
from koppel.server.domain.portal.password_reset import MAIL_JOB
from koppel.server.services import Services

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
T = TypeVar("T")


def store_bytes(svc: Services, content: bytes) -> analyses.Stored:
    """Write generated content to the blob store under a new committed key."""
    key = f"outbox/{uuid.uuid4().hex}"
    partial = f"outbox-{uuid.uuid4().hex}"
    size = svc.blobs.append(partial, [content])
    svc.blobs.commit(partial, key)
    return analyses.Stored(key, size, hashlib.sha256(content).hexdigest())


class LeaseLost(Exception):
    """Another worker claimed the job after this worker's lease lapsed."""


class Lease:
    """The claim of one running job, renewed by the thread that runs it."""

    def __init__(self, svc: Services, job: Job) -> None:
        self.svc = svc
        self.job = job
        self.length = svc.settings.job_lease
        self.renewed_at = job.started_at or svc.policy.clock()

    def beat(self) -> None:
        """Renew the lease once a third of it has passed since it was last renewed;
        ``LeaseLost`` when the job is no longer this claim's (stop: the work is lost)."""
        now = self.svc.policy.clock()
        if now - self.renewed_at < self.length / 3:
            return
        with self.svc.transaction() as uow:
            held = uow.jobs.renew(self.job, now + self.length)
        if not held:
            raise LeaseLost(f"job {self.job.id}")
        self.renewed_at = now


def beating(rows: Iterable[T], beat: Callable[[], None]) -> Iterator[T]:
    """The rows, with a heartbeat before each (``beat`` renews only when it is due)."""
    for row in rows:
        beat()
        yield row


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
        self.mailer = mailer(svc.settings)

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

    def running(self) -> int:
        """How many threads have not ended (after ``stop``: jobs still in hand)."""
        return sum(thread.is_alive() for thread in self._threads)

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
        """Claim and run one job; False when none was waiting."""
        job = self.claim(name)
        if job is None:
            return False
        self.run(job)
        return True

    def claim(self, name: str) -> Job | None:
        """Claim the next job (queued, or its lease lapsed) for the thread ``name``."""
        svc = self.svc
        with svc.transaction() as uow:
            return uow.jobs.claim(name, svc.policy.clock(), svc.settings.job_lease)

    def run(self, job: Job) -> bool:
        """Run a claimed job and record its end (queued again after a failure, until
        ``MAX_ATTEMPTS``); False when another worker took the job over meanwhile, and
        nothing of this run was kept."""
        try:
            if job.attempts > MAX_ATTEMPTS:
                # Claimed again after its lease lapsed, each time: its workers keep dying
                # on it (the job itself may be what stops them).
                kept = self._failed(job, f"its worker stopped in each of {MAX_ATTEMPTS} attempts")
            else:
                self._run(job, Lease(self.svc, job))
                kept = True
        except LeaseLost:
            kept = False
        except Exception as exc:
            log.exception("job %s (%s) failed", job.id, job.kind)
            kept = self._failed(job, f"{type(exc).__name__}: {exc}")
        if not kept:
            log.warning(
                "job %s (%s) was taken over by another worker after this worker's lease "
                "lapsed; this run's result is dropped",
                job.id,
                job.kind,
            )
            return False
        self.on_event()
        return True

    def _run(self, job: Job, lease: Lease) -> None:
        svc = self.svc
        if job.kind == MAIL_JOB:
            skipped = reset_mail_job.send(svc, job, self.mailer)
            with svc.transaction() as uow:
                if not uow.jobs.finish(job, "done", svc.policy.clock(), skipped):
                    raise LeaseLost(f"job {job.id}")
            return
        if job.kind != analyses.DOSSIER_OVERVIEW:
            raise ValueError(f"unknown job kind {job.kind!r}")
        with svc.transaction() as uow:
            dossier_repo = uow.dossier
            file, rows = analyses.prepare(
                job,
                uow.my_files,
                rows=lambda reader, dest: dossier.overview(
                    dossier_repo, reader.environment_id, reader.membership_id, dest
                ),
            )
        # In the language and time zone of the request that queued it.
        with (
            use_language(job.payload.get("language")),
            use_time_zone(job.payload.get("time_zone")),
        ):
            content = render(beating(rows, lease.beat))
        lease.beat()
        stored = store_bytes(svc, content)
        try:
            # The result, the file's state and its event commit together, and only under
            # this claim: after a takeover the other worker's result is the one kept.
            with svc.transaction() as uow:
                at = svc.policy.clock()
                if not uow.jobs.finish(job, "done", at, None):
                    raise LeaseLost(f"job {job.id}")
                analyses.complete(uow.my_files, uow.events, file.id, stored, at)
        except BaseException:
            svc.blobs.delete(stored.blob_key)  # nothing refers to it
            raise

    def _failed(self, job: Job, reason: str) -> bool:
        """Queue the job again, or after ``MAX_ATTEMPTS`` fail it and its file; False when
        the job is no longer this claim's (then its new worker decides)."""
        svc = self.svc
        with svc.transaction() as uow:
            jobs = uow.jobs
            my_files = uow.my_files
            if job.attempts < MAX_ATTEMPTS:
                return jobs.finish(job, "queued", svc.policy.clock(), reason)
            if not jobs.finish(job, "failed", svc.policy.clock(), reason):
                return False
            file = my_files.get(int(job.payload.get("file_id", 0)))
            if file is not None:
                analyses.fail(
                    my_files,
                    uow.events,
                    file,
                    svc.policy.clock(),
                    # Stored in English and translated where it is shown (the reader's
                    # language is not known here).
                    N_(
                        "The analysis could not be made; ask the administrator to look at "
                        "the server log."
                    ),
                )
            return True
