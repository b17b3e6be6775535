"""The real app in process: ``create_app()`` over a temporary data folder, reached through
httpx's ASGI transport (as Datasette's test client does). No port, no subprocess: route
and portal tests run in milliseconds. Background threads (job worker, housekeeping) are
not started; tests drive them explicitly (``InProcess.run_jobs``) so nothing races.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx

from koppel.protocol.updates import AGENT_UPDATE, UPDATE_HEADER
from koppel.server.adapters.app import create_app
from koppel.server.config import ServerSettings
from koppel.server.services import Services

T = TypeVar("T")
PUBLIC_URL = "http://koppel.test"
DEMO_PASSWORD = "koppel-demo"
UPDATE = {UPDATE_HEADER: str(AGENT_UPDATE)}


def run_async(work: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end on an event loop of its own (in a thread, so that it
    works beside a loop already running in this thread, such as Playwright's)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, work).result(120)


class Clock:
    """A clock the test moves: the policy reads it instead of the wall clock."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        """Move the clock forward (``advance(minutes=16)``)."""
        self.now += timedelta(**delta)
        return self.now


class AppClient:
    """A synchronous httpx-like client over the app's ASGI interface.

    httpx's ``ASGITransport`` is asynchronous; an event loop on a thread of its own runs
    the requests, so tests stay plain functions.
    """

    def __init__(self, app: Any, base_url: str = PUBLIC_URL, address: str = "127.0.0.1") -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        transport = httpx.ASGITransport(app=app, client=(address, 50000))
        self._client = httpx.AsyncClient(transport=transport, base_url=base_url)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send one request and wait for the whole response."""
        future = asyncio.run_coroutine_threadsafe(
            self._client.request(method, url, **kwargs), self._loop
        )
        return future.result(120)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    def head(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("HEAD", url, **kwargs)

    @property
    def cookies(self) -> httpx.Cookies:
        """The cookies the app set (a browser's jar)."""
        return self._client.cookies

    def close(self) -> None:
        """Close the client and stop its event loop."""
        asyncio.run_coroutine_threadsafe(self._client.aclose(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@dataclass
class InProcess:
    """One server's services and app, with clients and shortcuts for tests."""

    svc: Services
    app: Any
    clock: Clock
    _clients: list[AppClient] = field(default_factory=list)

    def client(self, address: str = "127.0.0.1") -> AppClient:
        """A new client (own cookies), closed with the fixture; ``address`` is the
        caller's IP address as the app sees it."""
        made = AppClient(self.app, address=address)
        self._clients.append(made)
        return made

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """One unit of work on the app's database (``uow.core``, ``uow.dossier``, ...)."""
        with self.svc.transaction() as uow:
            yield uow

    @contextmanager
    def sql(self) -> Iterator[Any]:
        """The connection of one transaction, for tests that read or change tables
        directly (``svc`` is what the composition root made: it has the database)."""
        with self.svc.database.transaction() as uow:
            yield uow.connection

    def settings_file(
        self, env: str, login: str = "anna", password: str = DEMO_PASSWORD
    ) -> dict[str, Any]:
        """ "Save settings" for ``login`` through the API (domain call: no HTTP Basic, so
        tests of the sign-in policy are not disturbed)."""
        from koppel.server.domain.links import enrollment

        with self.svc.transaction() as uow:
            account = enrollment.authenticate(uow.core, login, password)
            return enrollment.settings_for(uow.core, self.svc.policy, account, env)

    def token(self, env: str, login: str = "anna", workstation: str | None = None) -> str:
        """Link ``env`` for ``login`` from a workstation over the API; the user token."""
        station = workstation or f"ws-{uuid.uuid4().hex[:8]}"
        response = self.client().post(
            "/api/v1/links",
            headers=UPDATE,
            json={
                "workstation": {"id": station, "name": station},
                "settings": [self.settings_file(env, login)],
            },
        )
        assert response.status_code == 200, response.text
        return str(response.json()["links"][0]["token"])

    def run_jobs(self) -> int:
        """Run every queued job now, in this thread; how many ran."""
        from koppel.server.adapters.worker import Worker

        worker = Worker(self.svc, 0)
        ran = 0
        while worker.run_one("test-worker"):
            ran += 1
        return ran

    def close(self) -> None:
        for made in self._clients:
            made.close()
        self.svc.database.dispose()


def bearer(token: str) -> dict[str, str]:
    """Headers of an agent request with ``token``."""
    return {"Authorization": f"Bearer {token}", **UPDATE}


def make_in_process(data_dir: Path, *, demo: bool = True, **settings: Any) -> InProcess:
    """Services over a fresh data folder (migrated), the demo practice, and the app."""
    from koppel.server.demo import create_demo

    config = ServerSettings(**{"data_dir": data_dir, "public_url": PUBLIC_URL, "workers": 0,
                               **settings})  # fmt: skip
    svc = Services.create(config)
    clock = Clock()
    svc.policy = replace(svc.policy, clock=clock)
    if demo:
        create_demo(svc)
    return InProcess(svc, create_app(svc), clock)
