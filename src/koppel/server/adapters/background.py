"""What runs beside the requests of a server process: the job worker threads and the
event broker that wakes event streams. Started and stopped by the app's lifespan."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import FrameType

from fastapi import FastAPI

from koppel.server.adapters.assembly import ServerServices
from koppel.server.adapters.housekeeping import Housekeeping
from koppel.server.adapters.signals import EventBroker
from koppel.server.adapters.worker import Worker


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the broker, ``settings.workers`` job threads and housekeeping; stop them at
    shutdown."""
    svc: ServerServices = app.state.services

    def newest() -> int:
        with svc.transaction() as uow:
            return uow.events.last_id()

    broker = EventBroker(newest)
    worker = Worker(svc, svc.settings.workers, broker.notify)
    svc.events.attach(broker, worker.wake)
    housekeeping = Housekeeping(svc)
    broker.start()
    worker.start()
    housekeeping.start()
    _end_streams_on_exit(broker)
    try:
        yield
    finally:
        svc.events.detach()
        housekeeping.stop()
        worker.stop()
        broker.stop()


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
