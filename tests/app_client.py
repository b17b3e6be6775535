"""The real app in process: ``create_app()`` over a temporary data folder, reached through
httpx's ASGI transport (as Datasette's test client does). No port, no subprocess: route
and portal tests run in milliseconds. Background threads (job worker, housekeeping) are
not started; tests drive them explicitly (``InProcess.run_jobs``) so nothing races.
"""

from __future__ import annotations

import asyncio
import atexit
import shutil
import tempfile
import threading
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx

from admin_in_process import run_admin
from cheap_passwords import cheapen_demo_passwords
from harness import Result
from koppel.protocol.updates import AGENT_UPDATE, UPDATE_HEADER
from koppel.server.adapters.app import create_app
from koppel.server.adapters.assembly import create_services
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
        self._running_since: datetime | None = None

    def __call__(self) -> datetime:
        if self._running_since is not None:
            return self.now + (datetime.now(UTC) - self._running_since)
        return self.now

    def run(self) -> None:
        """From now on, move with the wall clock (as a server's clock does), for tests
        whose other side keeps real time, such as a phone's TOTP codes."""
        self.now, self._running_since = self(), datetime.now(UTC)

    def advance(self, **delta: float) -> datetime:
        """Move the clock forward (``advance(minutes=16)``)."""
        self.now += timedelta(**delta)
        return self.now


async def _pieces(body: Iterator[bytes]) -> AsyncIterator[bytes]:
    for piece in body:
        yield piece


class AppClient:
    """A synchronous httpx-like client over the app's ASGI interface.

    httpx's ``ASGITransport`` is asynchronous; an event loop on a thread of its own runs
    the requests, so tests stay plain functions.
    """

    def __init__(
        self,
        app: Any,
        base_url: str = PUBLIC_URL,
        address: str = "127.0.0.1",
        headers: dict[str, str] | None = None,
    ) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        transport = httpx.ASGITransport(app=app, client=(address, 50000))
        self._client = httpx.AsyncClient(transport=transport, base_url=base_url, headers=headers)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send one request and wait for the whole response. A body given as an iterator
        of bytes is sent piece by piece, as httpx's synchronous client sends it."""
        if isinstance(kwargs.get("content"), Iterator):
            kwargs["content"] = _pieces(kwargs["content"])
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
        """Close the client and stop its event loop (once: a test may close it early)."""
        if self._loop.is_closed():
            return
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
    # The KOPPEL_* variables of ``koppel-admin`` for this data (see ``admin``).
    env: dict[str, str] = field(default_factory=dict)
    _clients: list[AppClient] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        """The server's data folder."""
        return self.svc.settings.data_dir

    @property
    def url(self) -> str:
        """The server's public URL (what ``koppel-admin env set-api-url`` is given)."""
        return self.svc.policy.public_url

    def admin(self, *args: str, stdin: str | None = None) -> Result:
        """``koppel-admin ARGS`` in this process, against this app's data (as an
        operator's arrange step: its own connection, the real clock)."""
        return run_admin(self.env, self.data_dir, *args, stdin=stdin)

    def ok(self, *args: str) -> Result:
        """``admin`` that must succeed."""
        result = self.admin(*args)
        assert result.returncode == 0, result.output
        return result

    def client(
        self, address: str = "127.0.0.1", *, path: str = "", headers: dict[str, str] | None = None
    ) -> AppClient:
        """A new client (own cookies), closed with the fixture; ``address`` is the
        caller's IP address as the app sees it, ``path`` what relative URLs start with,
        ``headers`` sent with every request."""
        made = AppClient(self.app, f"{PUBLIC_URL}{path}", address, headers)
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
    """Services over a fresh data folder (migrated), the demo practice, and the app. The
    demo's data is made once per test process and settings and copied (``_demo_template``)."""
    return _make(data_dir, settings, demo=demo, template=_demo_template(settings) if demo else None)


def _make(data_dir: Path, settings: dict[str, Any], *, demo: bool, template: Path | None
          ) -> InProcess:  # fmt: skip
    values = {"data_dir": data_dir, "public_url": PUBLIC_URL, "workers": 0, **settings}
    if template is not None:
        shutil.copytree(template, data_dir)
    svc = create_services(ServerSettings(**values), migrate=False if template else None)
    clock = Clock()
    svc.policy = replace(svc.policy, clock=clock)
    if demo and template is None:
        from koppel.server.demo import create_demo

        create_demo(svc)
    env = {f"KOPPEL_{key.upper()}": str(value) for key, value in values.items()
           if key != "workers"}  # fmt: skip
    env["KOPPEL_ACTOR"] = "test-admin"
    return InProcess(svc, create_app(svc), clock, env)


# Settings that name data outside the data folder: a copied folder would not carry it.
_NOT_COPIED = {"database_url", "blob_url", "secret_key", "secret_key_file", "packages_dir"}
_TEMPLATES: dict[str, Path] = {}


def _demo_template(settings: dict[str, Any]) -> Path | None:
    """A data folder with the demo practice for these settings, made on first use in this
    test process (migrating and creating the demo costs about a second, hashing the
    passwords most of it); None when the settings point outside the data folder."""
    if _NOT_COPIED & settings.keys():
        return None
    key = repr(sorted((name, str(value)) for name, value in settings.items()))
    if key not in _TEMPLATES:
        root = Path(tempfile.mkdtemp(prefix="koppel-demo-"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        made = _make(root / "data", settings, demo=True, template=None)
        made.close()
        cheapen_demo_passwords(root / "data" / "koppel.sqlite3")
        _TEMPLATES[key] = root / "data"
    return _TEMPLATES[key]
