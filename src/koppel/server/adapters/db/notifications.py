"""PostgreSQL ``LISTEN``/``NOTIFY``: what one replica (or a worker process) commits wakes
the event streams and job workers of every other replica at once.

A transaction that records an event or queues a job sends ``NOTIFY koppel`` (delivered
when it commits, never for a rolled-back one). Each server process keeps one connection
listening, outside the pool, and calls its wake-up for every notification. Should that
connection break, it reconnects and wakes once, so that nothing committed meanwhile
waits. On SQLite nothing of this runs: there is only one host, and the broker's poll is
the fallback.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url

log = logging.getLogger(__name__)

CHANNEL = "koppel"
_RECONNECT_SECONDS = (0.5, 1, 2, 5)


def notify(connection: Connection, what: str) -> None:
    """Tell every listening process, when this transaction commits, that ``what``
    ("events", "jobs") changed. Nothing on another database than PostgreSQL."""
    if connection.dialect.name == "postgresql":
        connection.execute(
            text("SELECT pg_notify(:channel, :what)"), {"channel": CHANNEL, "what": what}
        )


def listens(database_url: str) -> bool:
    """Whether notifications exist for this database."""
    return make_url(database_url).get_backend_name() == "postgresql"


class Listener:
    """A thread holding ``LISTEN koppel`` and calling ``wake(what)`` per notification."""

    def __init__(self, database_url: str, wake: Callable[[str], None]) -> None:
        url = make_url(database_url).set(drivername="postgresql")
        self._conninfo = url.render_as_string(hide_password=False)
        self._wake = wake
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.listening = threading.Event()  # set while LISTEN is in force (for tests)

    def start(self) -> None:
        """Start listening (returns at once)."""
        self._thread = threading.Thread(target=self._run, name="koppel-listen", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop listening within about a second."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        import psycopg

        failures = 0
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    if failures:
                        self._wake("events")  # what was committed while not listening
                        self._wake("jobs")
                    failures = 0
                    while not self._stop.is_set():
                        for found in connection.notifies(timeout=1.0):
                            self._wake(found.payload)
            except Exception:  # the database restarted, the network broke: listen again
                self.listening.clear()
                if self._stop.is_set():
                    break
                delay = _RECONNECT_SECONDS[min(failures, len(_RECONNECT_SECONDS) - 1)]
                if failures == 0:
                    log.warning("listening for notifications failed; trying again", exc_info=True)
                failures += 1
                self._stop.wait(delay)
        self.listening.clear()
