"""The real Koppel server for the agent's unit tests: ``create_app`` over the demo
practice, served by uvicorn on 127.0.0.1 in a background thread.

The demo data is made once per test process (on a port fixed for the process, so the
addresses it records stay right) and copied for every test, which then gets its own
server on that port. Requests are recorded on the way in (method, path, headers, JSON
body), so that tests can say how the agent talked to the server.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import io
import json
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import uvicorn

from cheap_passwords import cheapen_demo_passwords
from koppel.i18n import current_language, set_process_language
from koppel.protocol.updates import AGENT_UPDATE, UPDATE_HEADER
from koppel.server.adapters.app import create_app
from koppel.server.adapters.assembly import create_services
from koppel.server.config import ServerSettings

DEMO_PASSWORD = "koppel-demo"
Scope = dict[str, Any]


@dataclass
class Recorded:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


Rewrite = Callable[[Any], tuple[int, Any]]


class Recorder:
    """ASGI middleware that records every HTTP request before the app handles it, and
    lets a test rewrite the app's JSON answer of one route (what the real server cannot
    be made to say, such as an environment on a newer update than the agent's)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests: list[Recorded] = []
        self.rewrites: dict[tuple[str, str], Rewrite] = {}

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        raw = b"".join(chunks)
        headers = {k.decode("latin-1").title(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        query = scope.get("query_string", b"").decode()
        path = scope["path"] + (f"?{query}" if query else "")
        self.requests.append(Recorded(scope["method"], path, headers, body))
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": raw, "more_body": False}
            return await receive()

        rewrite = self.rewrites.get((scope["method"], scope["path"]))
        if rewrite is None:
            await self.app(scope, replay, send)
            return
        answer: dict[str, Any] = {}
        parts: list[bytes] = []

        async def keep(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answer.update(message)
            else:
                parts.append(message.get("body", b""))

        await self.app(scope, replay, keep)
        status, data = rewrite(json.loads(b"".join(parts) or b"null"))
        payload = json.dumps(data).encode()
        headers = [(k, v) for k, v in answer.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(payload)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


_TEMPLATES: dict[int, tuple[int, Path]] = {}


def _template(slot: int) -> tuple[int, Path]:
    """The port and data folder of the demo practice of server ``slot``, made once per
    test process (a test with two servers uses slots 0 and 1)."""
    if slot not in _TEMPLATES:
        from koppel.server.demo import create_demo

        port = _free_port()
        made = tempfile.mkdtemp(prefix="koppel-demo-")
        atexit.register(shutil.rmtree, made, ignore_errors=True)
        folder = Path(made) / "data"
        svc = create_services(_settings(folder, port))
        create_demo(svc)
        svc.database.dispose()
        cheapen_demo_passwords(folder / "koppel.sqlite3")
        _TEMPLATES[slot] = (port, folder)
    return _TEMPLATES[slot]


def _settings(folder: Path, port: int) -> ServerSettings:
    return ServerSettings(data_dir=folder, public_url=f"http://127.0.0.1:{port}", workers=0)


class LiveServer:
    """A real server with its own copy of the demo data."""

    def __init__(self, base: Path, slot: int = 0) -> None:
        port, template = _template(slot)
        self.port = port
        self.data_dir = base / f"server-data-{slot}"
        shutil.copytree(template, self.data_dir)
        self.svc = create_services(_settings(self.data_dir, port))
        self.recorder = Recorder(create_app(self.svc))
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def requests(self) -> list[Recorded]:
        """The requests received so far (clear it to start counting)."""
        return self.recorder.requests

    def rewrite(self, method: str, path: str, change: Rewrite) -> None:
        """From now on, answer ``method path`` with ``change(the app's JSON answer)``
        (a status and the JSON to send instead)."""
        self.recorder.rewrites[(method, path)] = change

    def paths(self, method: str | None = None) -> list[str]:
        """The paths requested (of ``method`` only, when given)."""
        return [r.path for r in self.requests if method is None or r.method == method]

    def start(self) -> LiveServer:
        config = uvicorn.Config(
            self.recorder,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the test server did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving (the data stays: ``start`` serves it again)."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(30)
            self._server = self._thread = None

    def close(self) -> None:
        self.stop()
        self.svc.database.dispose()

    # -- what the tests do on the server --------------------------------------------------

    def settings(self, code: str, login: str = "anna") -> dict[str, Any]:
        """ "Save settings" of ``code`` for ``login``, as the API hands it out (not recorded)."""
        return self._download(code, "settings", login)

    def bundle(self, firm: str = "F10001", login: str = "anna") -> dict[str, Any]:
        """ "Save settings" of every client of ``firm`` (not recorded)."""
        return self._download(firm, "settings-bundle", login)

    def _download(self, code: str, tail: str, login: str) -> dict[str, Any]:
        pair = base64.b64encode(f"{login}:{DEMO_PASSWORD}".encode()).decode()
        with httpx.Client(base_url=self.url) as client:
            response = client.get(
                f"/api/v1/environments/{code}/{tail}",
                headers={"Authorization": f"Basic {pair}", UPDATE_HEADER: str(AGENT_UPDATE)},
            )
        assert response.status_code == 200, response.text
        self.requests.pop()
        document: dict[str, Any] = response.json()
        return document

    def admin(self, *args: str) -> str:
        """Run a ``koppel-admin`` command on this server's data, in this process (through
        its console-script entry point, wherever that lives); its output."""
        (entry,) = entry_points(group="console_scripts", name="koppel-admin")
        main = entry.load()
        argv = ["koppel-admin", "--data-dir", str(self.data_dir), *args]
        out = io.StringIO()
        # koppel-admin sets its process's language to English; this process is the agent's
        # too, and keeps the language its test chose.
        language = current_language()
        with mock.patch.object(sys, "argv", argv), contextlib.redirect_stdout(out):
            try:
                main()
                code = 0
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 1
            finally:
                set_process_language(language)
        assert code == 0, out.getvalue()
        return out.getvalue()
