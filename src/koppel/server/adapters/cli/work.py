"""``koppel-server worker``: a process that runs only the job workers (the analyses),
against the configured database and blob store, without HTTP. Replicas then answer
requests with ``KOPPEL_WORKERS=0`` while one or more of these processes make the files.

SIGTERM and SIGINT stop it: each thread finishes the job in hand (the worker's ``stop``
waits up to 10 s a thread); a job still running then is left to its lease, which lapses
and lets another worker take it again (``KOPPEL_JOB_LEASE_SECONDS``)."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from koppel.server.adapters.cli.starting import open_services
from koppel.server.config import ServerSettings

log = logging.getLogger("koppel.worker")


def run_worker(settings: ServerSettings, threads: int | None, log_level: str) -> None:
    """Run ``threads`` job threads (default ``KOPPEL_WORKERS``, at least one) until
    SIGTERM or SIGINT."""
    from koppel.server.adapters.assembly import notifications
    from koppel.server.adapters.worker import Worker

    count = threads if threads is not None else max(settings.workers, 1)
    svc = open_services(settings, log_level, "worker")
    stop = threading.Event()
    received: list[str] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        # No logging here (its locks are not for signal handlers): the main thread
        # logs once the wait below ends.
        received.append(signal.Signals(signum).name)
        stop.set()

    previous = {
        number: signal.signal(number, handler) for number in (signal.SIGTERM, signal.SIGINT)
    }
    worker = Worker(svc, count)
    # On PostgreSQL a job queued by any replica wakes the threads at once (else each
    # looks every second).
    listener = notifications(settings, lambda what: worker.wake() if what == "jobs" else None)
    try:
        worker.start()
        if listener is not None:
            listener.start()
        log.info(
            "job worker %s started with %d thread%s on %s",
            worker.name,
            count,
            "" if count == 1 else "s",
            settings.resolved_database_url.split("://")[0],
        )
        # Woken by the handler; the timeout keeps the main thread able to run it on
        # platforms where a signal does not interrupt a wait.
        while not stop.wait(1.0):
            pass
        log.info("%s received: finishing the jobs in hand", received[0])
        if listener is not None:
            listener.stop()
        worker.stop()
        still = worker.running()
        if still:
            log.warning(
                "%d job%s still running at stop: taken again by another worker once "
                "the lease lapses (KOPPEL_JOB_LEASE_SECONDS=%g)",
                still,
                "" if still == 1 else "s",
                settings.job_lease_seconds,
            )
        log.info("job worker %s stopped", worker.name)
    finally:
        for number, earlier in previous.items():
            signal.signal(number, earlier)
        svc.database.dispose()
