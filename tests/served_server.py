"""The real app served by uvicorn on a thread of the test process: a real port and real
HTTP (agents in subprocesses reach it as they reach ``koppel-server``), without the
process start-up. ``koppel-admin`` runs in process too. Tests about the server process
itself (start-up, crashes, restarts after a kill, its log, its file modes) keep
``harness.Server``.

    srv = ServedServer(...)  # made by ``harness.make_server(base)``
    srv.start("--demo")
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

import demo_template
from admin_in_process import run_admin
from harness import Result, Server, free_port

if TYPE_CHECKING:
    import uvicorn

    from koppel.server.services import Services

_STOP_SECONDS = 15


class ServedServer(Server):
    """``Server``'s interface over the app served on a thread of this process."""

    _uvicorn: uvicorn.Server | None = None
    _thread: threading.Thread | None = None
    _svc: Services | None = None
    _listener: socket.socket | None = None
    _log_handler: logging.Handler | None = None

    def start(self, *extra: str) -> Server:
        """Open the data folder (migrating it; ``--demo`` creates the demo practice, on a
        first start by copying this process's template) and serve the app; returns when
        it answers."""
        import uvicorn

        from koppel.server.adapters.app import create_app
        from koppel.server.adapters.assembly import create_services
        from koppel.server.adapters.cli.serve import _announce as announce_address
        from koppel.server.adapters.http.path_send import PathSendProtocol
        from koppel.server.config import ServerSettings
        from koppel.server.demo import create_demo

        unknown = [arg for arg in extra if arg != "--demo"]
        if unknown:
            raise ValueError(f"ServedServer.start understands --demo only, not {unknown}")
        demo = "--demo" in extra
        copied = demo and not self.started_once and demo_template.usable(self.env, self.data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        listener = self._bind()
        if copied:
            demo_template.copy_demo(self.data_dir, self.env["KOPPEL_PUBLIC_URL"])
        self._log_to_file()
        values = {k.removeprefix("KOPPEL_").lower(): v for k, v in self.env.items()
                  if k.startswith("KOPPEL_")}  # fmt: skip
        svc = create_services(ServerSettings(**values))
        if demo and not copied:
            create_demo(svc)
        announce_address(svc)  # as koppel-server does: koppel-admin reads it from the data
        config = uvicorn.Config(
            create_app(svc),
            log_level="warning",
            timeout_graceful_shutdown=2,
            lifespan="on",
            http=PathSendProtocol,  # as koppel-server serves
        )
        served = uvicorn.Server(config)
        thread = threading.Thread(
            target=served.run, kwargs={"sockets": [listener]}, daemon=True, name="served-app"
        )
        self._svc, self._uvicorn, self._thread = svc, served, thread
        self._listener = listener
        thread.start()
        deadline = time.monotonic() + 30
        while not served.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the served app did not start:\n" + self._log_text())
            time.sleep(0.01)
        self.started_once = True
        return self

    def _bind(self) -> socket.socket:
        """The listening socket on this server's port (another port before the first
        start when a parallel test took it: the address is in the data after it)."""
        while True:
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                listener.bind(("127.0.0.1", self.port))
                return listener
            except OSError:
                listener.close()
                if self.started_once:
                    raise
                self.move_to(free_port())

    def _log_to_file(self) -> None:
        """Koppel's log lines go to ``self.log`` as the process's would."""
        handler = logging.FileHandler(self.log, encoding="utf-8")
        handler.setLevel(logging.WARNING)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logging.getLogger("koppel").addHandler(handler)
        self._log_handler = handler

    def _log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    @property
    def running(self) -> bool:
        """Whether the app is being served."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        """Stop serving (open event streams are closed), release the database."""
        if self._uvicorn is not None and self._thread is not None:
            self._uvicorn.should_exit = True
            self._thread.join(_STOP_SECONDS)
            if self._thread.is_alive():
                self._uvicorn.force_exit = True
                self._thread.join(_STOP_SECONDS)
        if self._listener is not None:
            self._listener.close()
        if self._svc is not None:
            self._svc.database.dispose()
        if self._log_handler is not None:
            logging.getLogger("koppel").removeHandler(self._log_handler)
            self._log_handler.close()
        self._uvicorn = self._thread = self._svc = self._log_handler = self._listener = None

    def admin(self, *args: str, stdin: str | None = None) -> Result:
        """``koppel-admin ARGS`` in this process, against this server's data."""
        return run_admin(self.env, self.data_dir, *args, stdin=stdin)

    @property
    def services(self) -> Any:
        """The served app's services (for tests that look inside)."""
        return self._svc
