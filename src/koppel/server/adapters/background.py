"""What runs beside the requests of a server process: the job worker threads and the
event broker that wakes event streams. Started and stopped by the app's lifespan."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from types import FrameType

from fastapi import FastAPI

from koppel.server.adapters.assembly import ServerServices
from koppel.server.adapters.db.notifications import Listener, listens
from koppel.server.adapters.housekeeping import Housekeeping
from koppel.server.adapters.signals import POLL_SECONDS, EventBroker
from koppel.server.adapters.worker import Worker
from koppel.server.domain.events import EventHead

# With notifications (PostgreSQL): read the newest event id this often all the same.
SAFETY_POLL_SECONDS = 30.0


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the broker, ``settings.workers`` job threads and housekeeping; stop them at
    shutdown."""
    svc: ServerServices = app.state.services

    def newest() -> int:
        with svc.transaction() as uow:
            return uow.events.last_id()

    def heads(after: int, upto: int) -> list[EventHead]:
        with svc.transaction() as uow:
            return uow.events.heads(after, upto)

    url = svc.settings.resolved_database_url
    notified = listens(url)
    # On PostgreSQL other replicas' commits arrive as notifications: the poll is only a
    # safety net there. On SQLite (one host) it is how a worker's events are seen.
    broker = EventBroker(
        newest, poll=SAFETY_POLL_SECONDS if notified else POLL_SECONDS, read_heads=heads
    )
    worker = Worker(svc, svc.settings.workers, broker.notify)
    svc.events.attach(broker, worker.wake)
    listener = Listener(url, partial(_woken, broker, worker)) if notified else None
    housekeeping = Housekeeping(svc)
    broker.start()
    worker.start()
    if listener is not None:
        listener.start()
    housekeeping.start()
    _end_streams_on_exit(broker)
    try:
        yield
    finally:
        svc.events.detach()
        housekeeping.stop()
        if listener is not None:
            listener.stop()
        worker.stop()
        broker.stop()


def _woken(broker: EventBroker, worker: Worker, what: str) -> None:
    """A notification from the database (another process committed)."""
    if what == "jobs":
        worker.wake()
    else:
        broker.notify()


def _end_streams_on_exit(broker: EventBroker) -> None:
    """Chain the server's SIGINT/SIGTERM handlers (uvicorn's) so that open event streams
    end at once: uvicorn waits for open connections before it stops."""
    for number in (signal.SIGINT, signal.SIGTERM):
        try:
            previous = signal.getsignal(number)
        except ValueError:
            return
        if not callable(previous):
            continue  # no server handler to chain (e.g. an in-process test client)

        def handler(
            signum: int, frame: FrameType | None, previous: Callable[..., object] = previous
        ) -> None:
            broker.close_streams()
            previous(signum, frame)

        try:
            signal.signal(number, handler)
        except ValueError:  # not the main thread
            return
