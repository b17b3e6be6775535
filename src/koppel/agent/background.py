"""``koppel agent run``: the background agent, one per OS user.

It does what ``koppel watch`` does (see :mod:`koppel.agent.watching`) and also sends the
offline queue as soon as a server is reachable again: after a failed attempt it tries
again with backoff, and at once when a follower (re)connects to a server. It keeps
``status.json`` (:mod:`koppel.agent.local.status`) for ``koppel agent status`` and the
tray. ``agent.lock`` in the data folder, held for the process's life, makes it one per
user; the OS releases it when the process dies, however it dies.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from koppel.agent import watching
from koppel.agent.errors import AgentError
from koppel.agent.exit_codes import ExitCode
from koppel.agent.local import locks, paths
from koppel.agent.local import queue as queue_mod
from koppel.agent.local import status as status_mod
from koppel.agent.local.state import now_iso
from koppel.agent.local.status import AgentStatus, ReceivedFile, ServerState, ServerStatus
from koppel.agent.sending import send_pending
from koppel.i18n import gettext as _
from koppel.i18n import ngettext
from koppel.protocol.counts import counted

LOCK_NAME = "agent.lock"
# Without a change of state, the status is rewritten at most this often for a new
# "last contact" (heartbeats arrive more often; the tray needs no finer time).
CONTACT_WRITE_EVERY = 60.0
# After a successful (or empty) round the queue is looked at again after this long.
QUEUE_INTERVAL = watching.QUEUE_INTERVAL
UPDATE_CHECK_EVERY = 3600.0  # check_daily itself asks the servers once a day
STOP_WAIT = 30.0
# The server states that name a problem of one link, most serious first.
_LINK_PROBLEMS: tuple[ServerState, ...] = ("token_revoked", "update_mismatch")


def lock_file() -> Path:
    """The lock the running background agent holds."""
    return paths.data_dir() / LOCK_NAME


@dataclass(frozen=True)
class RunningAgent:
    """The background agent that holds the lock (its pid from its status, when known)."""

    pid: int | None


def find_running() -> RunningAgent | None:
    """The background agent of this user, or None when none is running."""
    if not locks.is_held(lock_file()):
        return None
    found = status_mod.read()
    return RunningAgent(found.pid if found else None)


# -- the status --------------------------------------------------------------------------------


@dataclass
class _Server:
    online: bool = False
    reason: str = ""
    last_contact: str | None = None
    environments: dict[str, str] = field(default_factory=dict)  # code -> "ok" or a code
    messages: dict[str, str] = field(default_factory=dict)  # code -> why it was dropped

    def status(self, url: str) -> ServerStatus:
        if not self.online:
            detail = (
                _(
                    "The server cannot be reached ({reason}). Koppel keeps trying by itself; "
                    "submissions wait in the queue until then."
                ).format(reason=self.reason)
                if self.reason
                else _("Connecting…")
            )
            return ServerStatus(url, "offline", detail, self.last_contact, dict(self.environments))
        for problem in _LINK_PROBLEMS:
            codes = sorted(c for c, s in self.environments.items() if s == problem)
            if codes:
                detail = " ".join(self.messages.get(c, "") for c in codes).strip()
                return ServerStatus(
                    url, problem, detail, self.last_contact, dict(self.environments)
                )
        followed = sum(1 for s in self.environments.values() if s == "ok")
        detail = ngettext(
            "Following {n} environment on one connection.",
            "Following {n} environments on one connection.",
            followed,
        ).format(n=followed)
        others = [self.messages[c] for c in sorted(self.messages) if c in self.environments]
        if others:
            detail = " ".join([detail, *others])
        return ServerStatus(url, "connected", detail, self.last_contact, dict(self.environments))


class StatusBook:
    """The background agent's status, kept in memory and written to ``status.json``
    whenever it changes (a new "last contact" alone: at most once a minute). Called from
    the followers' threads, the queue's sender and the main loop."""

    def __init__(self, log: watching.Log) -> None:
        self._log = log
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._servers: dict[str, _Server] = {}
        self._pending = 0
        self._failed = 0
        self._received: list[ReceivedFile] = []
        self._written_at = 0.0
        self._dirty = False
        self._write_failed = False
        self._queue_seen: int | None = None
        self.running = True

    def snapshot(self) -> AgentStatus:
        """The status as it would be written now."""
        with self._lock:
            return self._snapshot()

    def _snapshot(self) -> AgentStatus:
        return AgentStatus(
            pid=self._pid,
            updated_at=now_iso(),
            servers={url: s.status(url) for url, s in self._servers.items()},
            pending=self._pending,
            failed=self._failed,
            received=list(self._received),
            running=self.running,
        )

    def _server(self, url: str) -> _Server:
        return self._servers.setdefault(url, _Server())

    def _write(self) -> None:
        """Write now (holding ``_lock``)."""
        try:
            status_mod.write(self._snapshot())
        except OSError as exc:
            if not self._write_failed:  # once, not at every heartbeat
                self._log(f"could not write {status_mod.status_file()} ({exc})")
            self._write_failed = True
            return
        self._write_failed = False
        self._written_at = time.monotonic()
        self._dirty = False

    def write(self) -> None:
        """Write the status now."""
        with self._lock:
            self._write()

    def connected(self, url: str, environments: list[str]) -> None:
        """A session was opened for these environments."""
        with self._lock:
            server = self._server(url)
            server.online, server.reason, server.last_contact = True, "", now_iso()
            server.environments = dict.fromkeys(environments, "ok")
            server.messages = {}
            self._write()

    def contact(self, url: str) -> None:
        """The server sent something."""
        with self._lock:
            server = self._server(url)
            server.last_contact, server.online = now_iso(), True
            self._dirty = True
            if time.monotonic() - self._written_at >= CONTACT_WRITE_EVERY:
                self._write()

    def lost(self, url: str, reason: str, *, final: bool) -> None:
        """The connection failed; ``final``: the server refused it (it did answer)."""
        with self._lock:
            server = self._server(url)
            if final:
                server.online, server.last_contact = True, now_iso()
            else:
                server.online, server.reason = False, reason
            self._write()

    def dropped(self, url: str, environment: str, state: str, message: str) -> None:
        """An environment is no longer followed, for the reason ``state``."""
        with self._lock:
            server = self._server(url)
            server.environments[environment] = state
            server.messages[environment] = message
            self._write()

    def unfollowed(self, url: str) -> None:
        """Nothing is linked on ``url`` any more: it leaves the status."""
        with self._lock:
            if self._servers.pop(url, None) is not None:
                self._write()

    def received(self, environment: str, path: Path) -> None:
        """A file was placed in My files."""
        with self._lock:
            self._received.insert(0, ReceivedFile(str(path), environment, now_iso()))
            del self._received[status_mod.RECEIVED_KEPT :]
            self._write()

    def count_queue(self) -> None:
        """Count the queued submissions again; write when the counts changed."""
        submissions = queue_mod.load_all()
        failed = sum(1 for s in submissions if s.state == queue_mod.FAILED)
        with self._lock:
            if (self._pending, self._failed) != (len(submissions) - failed, failed):
                self._pending, self._failed = len(submissions) - failed, failed
                self._write()

    def tick(self) -> None:
        """The main loop's look: a submission queued by `koppel submit` meanwhile is
        counted (the queue folder's time changes), a pending contact written."""
        try:
            seen = os.stat(queue_mod.folder()).st_mtime_ns
        except OSError:
            seen = 0
        if seen != self._queue_seen:
            self._queue_seen = seen
            self.count_queue()
        with self._lock:
            if self._dirty and time.monotonic() - self._written_at >= CONTACT_WRITE_EVERY:
                self._write()


# -- the queue -----------------------------------------------------------------------------------


class QueueSender(threading.Thread):
    """Sends the offline queue: at start, when woken (a server is reachable again), after
    a failure with backoff, and otherwise once a minute."""

    def __init__(self, book: StatusBook, log: watching.Log) -> None:
        super().__init__(name="queue sender", daemon=True)
        self._book = book
        self._log = log
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self.rounds = 0

    def wake(self) -> None:
        """Send now (a follower just connected to a server)."""
        self._wake.set()

    def stop(self) -> None:
        """Stop after the submission being sent (a killed sender resumes it next time)."""
        self._stopping.set()
        self._wake.set()

    def run(self) -> None:
        attempt = 0
        delay = 0.0
        while True:
            self._wake.wait(delay)
            if self._stopping.is_set():
                return
            self._wake.clear()
            if self._send_round():
                delay, attempt = watching.backoff_delay(attempt), attempt + 1
                self._log(f"queue: trying again in {delay:.0f} s")
            else:
                delay, attempt = QUEUE_INTERVAL, 0

    def _send_round(self) -> bool:
        """Send what the queue holds; whether some of it still waits for its server."""
        self.rounds += 1
        waiting = False
        if not any(queue_mod.folder().glob("*.json")):
            # Nothing queued: no need to read the links (most rounds of an idle agent).
            self._book.count_queue()
            return False
        try:
            results = send_pending(progress=False)
        except Exception as exc:  # the queue reports its own problems; keep running
            self._log(f"queue: sending failed ({exc})")
            results, waiting = [], True
        for result in results:
            if result.state in ("queued", "busy"):
                waiting = True
            else:
                self._log(f"queue: {result.environment}: {result.state} {result.message}".rstrip())
        try:
            self._book.count_queue()
        except OSError as exc:
            self._log(f"queue: cannot read the queue ({exc})")
        if waiting:
            still = sum(1 for r in results if r.state in ("queued", "busy"))
            self._log(f"queue: {counted(still, 'submission')} wait for their server")
        return waiting


class UpdateChecker(threading.Thread):
    """The update check of the product Koppel replaces: at start, then every hour;
    ``updating.check_daily`` asks the servers at most once a day and notifies once per
    release."""

    def __init__(self, log: watching.Log) -> None:
        super().__init__(name="update check", daemon=True)
        self._log = log
        self._stopping = threading.Event()

    def stop(self) -> None:
        """Stop before the next look."""
        self._stopping.set()

    def run(self) -> None:
        from koppel.agent.updating import check_daily

        while not self._stopping.is_set():
            try:
                check_daily(self._log)
            except Exception as exc:  # never stop the agent for a failed check
                self._log(f"update check failed ({exc})")
            self._stopping.wait(UPDATE_CHECK_EVERY)


class _Observer(watching.Observer):
    """Turns what the followers see into the status, and wakes the queue on a connect."""

    def __init__(self, book: StatusBook, sender: QueueSender) -> None:
        self._book, self._sender = book, sender

    def connected(self, server: str, environments: list[str]) -> None:
        self._book.connected(server, environments)
        self._sender.wake()

    def contact(self, server: str) -> None:
        self._book.contact(server)

    def lost(self, server: str, reason: str, *, final: bool) -> None:
        self._book.lost(server, reason, final=final)

    def dropped(self, server: str, environment: str, state: str, message: str) -> None:
        self._book.dropped(server, environment, state, message)

    def received(self, environment: str, path: Path) -> None:
        self._book.received(environment, path)

    def unfollowed(self, server: str) -> None:
        self._book.unfollowed(server)

    def tick(self) -> None:
        self._book.tick()


def run(log: watching.Log = watching.log_line) -> int:
    """Run the background agent until SIGINT/SIGTERM (or ``koppel agent stop``); the
    exit code. A second one of the same user is refused (``AGENT_RUNNING``)."""
    paths.ensure_data_dir()
    with locks.attempt(lock_file()) as mine:
        if not mine:
            found = status_mod.read()
            if found and found.pid is not None:
                said = _(
                    "The background agent of this user is already running (pid {pid}); "
                    "nothing to do."
                ).format(pid=found.pid)
            else:
                said = _("The background agent of this user is already running; nothing to do.")
            raise AgentError(said, ExitCode.AGENT_RUNNING)
        book = StatusBook(log)
        book.count_queue()
        book.write()
        sender = QueueSender(book, log)
        sender.start()
        checker = UpdateChecker(log)
        checker.start()
        log(f"background agent started (pid {os.getpid()})")
        try:
            return watching.run(None, log, observer=_Observer(book, sender), background=True)
        finally:
            checker.stop()
            sender.stop()
            sender.join(STOP_WAIT)
            book.running = False
            book.write()


def stop(timeout: float = STOP_WAIT) -> int:
    """Ask the running background agent to stop and wait until it has; its pid."""
    found = find_running()
    if found is None:
        raise AgentError(_("No background agent is running."), ExitCode.AGENT_NOT_RUNNING)
    if found.pid is None:
        raise AgentError(
            _(
                "A background agent is running but its process id is unknown; stop it from "
                "the tray or sign out and in again."
            )
        )
    # SIGTERM lets it finish the file it is placing. On Windows os.kill ends the process
    # at once (TerminateProcess); the OS then releases its locks, and a submission it was
    # sending resumes from its queue file next time.
    os.kill(found.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while locks.is_held(lock_file()):
        if time.monotonic() > deadline:
            raise AgentError(
                _("The background agent (pid {pid}) did not stop within {seconds} s.").format(
                    pid=found.pid, seconds=f"{timeout:.0f}"
                )
            )
        time.sleep(0.1)
    return found.pid
