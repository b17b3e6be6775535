"""``koppel watch``: receive My files as they become ready, on every linked environment.

Per server ONE event session and ONE Server-Sent Events connection carry the events of
all the environments linked there. On start and after every reconnect the watcher first
asks, in one request per server, for ready files not yet delivered to this workstation,
so nothing that became ready while it was away is missed; then it follows the stream
from the last event it handled (``Last-Event-ID``). Reconnects back off exponentially
(capped, with jitter). Threads block on their socket: an idle watcher uses no CPU.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from koppel.agent.api import (
    AgentClient,
    ConnectorBlocked,
    EnvironmentConverted,
    FileFailed,
    FileReady,
    OtherEvent,
    ServerEvent,
    StreamBroken,
    TokenRevoked,
)
from koppel.agent.errors import AgentError, ApiError, CannotSave
from koppel.agent.link_status import group_by_server
from koppel.agent.local import locks, notify, paths
from koppel.agent.local import state as state_mod
from koppel.agent.local.my_files_folder import Ledger
from koppel.agent.local.state import LinkedEnv
from koppel.agent.local.token_store import TokenVault
from koppel.agent.my_files import deliver
from koppel.agent.sending import send_pending
from koppel.i18n import gettext as _
from koppel.i18n import ngettext
from koppel.protocol.api import StatusQuery
from koppel.protocol.files import OutputFileOut

BACKOFF_START = 1.0
BACKOFF_CAP = 60.0
# A file that could not be saved is tried again after this long, then after doubling
# intervals up to the cap (and at every reconnect and start of the watcher).
RETRY_FIRST = 10.0
RETRY_CAP = 15 * 60.0
QUEUE_INTERVAL = 60.0
# The main thread looks at its followers this often (a wake-up costs nothing measurable).
TICK = 5.0
Log = Callable[[str], None]


def log_line(message: str) -> None:
    """One timestamped line on stdout, at once (the watcher's log)."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    print(f"{stamp} {message}", flush=True)


def _watching(environments: int, servers: int) -> str:
    """The first line of a watch: how many environments on how many servers."""
    # Two counts in one sentence: each is its own ngettext, then joined by a whole sentence.
    envs = ngettext("{count} environment", "{count} environments", environments).format(
        count=environments
    )
    on = ngettext("{count} server", "{count} servers", servers).format(count=servers)
    return _("watching {environments} on {servers}").format(environments=envs, servers=on)


def backoff_delay(attempt: int, base: float = BACKOFF_START, cap: float = BACKOFF_CAP) -> float:
    """Exponential backoff with jitter: between half and all of ``base * 2**attempt``."""
    ceiling: float = min(cap, base * 2.0 ** min(attempt, 16))
    return ceiling / 2 + random.uniform(0.0, ceiling / 2)


class Observer:
    """What happens to the followers, for whoever keeps a status (the background agent).

    Called from the followers' threads; this one does nothing (``koppel watch``)."""

    def connected(self, server: str, environments: list[str]) -> None:
        """A session with ``server`` was opened for these environments (those it refused
        are reported by :meth:`dropped` right after)."""

    def contact(self, server: str) -> None:
        """The server sent something (an event or a heartbeat)."""

    def lost(self, server: str, reason: str, *, final: bool) -> None:
        """The connection failed (``final``: refused, not tried again)."""

    def dropped(self, server: str, environment: str, state: str, message: str) -> None:
        """An environment is no longer followed; ``state`` is the server's code for why
        (``token_revoked``, ``update_mismatch``, ...)."""

    def received(self, environment: str, path: Path) -> None:
        """A file was placed at ``path``."""

    def unfollowed(self, server: str) -> None:
        """No environment of ``server`` is linked here any more."""

    def tick(self) -> None:
        """The main loop's regular look (every ``TICK`` seconds)."""


@dataclass
class Unplaced:
    """A ready file that could not be placed here yet, and when to try again."""

    file: OutputFileOut
    reason: str
    attempts: int
    due: float  # time.monotonic()


class Follower(threading.Thread):
    """Follows one server: its session, its pending files, its event stream."""

    def __init__(
        self,
        server: str,
        envs: list[LinkedEnv],
        tokens: dict[str, str],
        workstation_id: str,
        ledger: Ledger,
        stop: threading.Event,
        log: Log = log_line,
        observer: Observer | None = None,
    ) -> None:
        super().__init__(name=f"watch {server}", daemon=True)
        self.observer = observer or Observer()
        self.server = server
        self.envs = {e.code: e for e in envs}
        self.tokens = tokens
        self.workstation_id = workstation_id
        self.ledger = ledger
        self.stop = stop
        self.log = log
        # Held while a file is being placed, so that stopping never leaves a part behind.
        self.busy = threading.Lock()
        self.sessions_opened = 0
        # Set by ``follow`` when the linked environments changed: the stream is cut and
        # a new session for the new set is opened at once.
        self._changed = threading.Event()
        self._socket: Any = None
        # Files that could not be placed, by (environment, file id); only this thread
        # touches it.
        self.unplaced: dict[tuple[str, int], Unplaced] = {}

    def follow(self, envs: list[LinkedEnv], tokens: dict[str, str]) -> bool:
        """Follow exactly these environments from now on (links made or removed while
        watching); whether anything changed. Called from the main thread."""
        wanted = {e.code: e for e in envs}
        if set(wanted) == set(self.envs) and all(
            self.tokens.get(code) == tokens.get(code) for code in wanted
        ):
            return False
        self.envs, self.tokens = wanted, dict(tokens)
        self._changed.set()
        # Waking the thread from its blocking read: shutting the socket down does it at
        # once (closing it would not); without a socket the next heartbeat does.
        with contextlib.suppress(OSError, AttributeError):
            if self._socket is not None:
                self._socket.shutdown(socket.SHUT_RDWR)
        return True

    # -- the loop -----------------------------------------------------------------------------

    def run(self) -> None:
        attempt = 0
        with AgentClient(self.server) as client:
            while not self.stop.is_set() and self.envs:
                try:
                    retry_ms = self._follow_once(client)
                    attempt = 0
                    delay = retry_ms / 1000
                except (AgentError, StreamBroken, OSError, ValueError) as exc:
                    if self._changed.is_set():
                        delay = 0.0  # the cut was ours
                    else:
                        retry = self._retry_delay(exc, attempt)
                        if retry is None:
                            return
                        delay, attempt = retry, attempt + 1
                if self._changed.is_set():
                    self._changed.clear()
                    delay = 0.0
                if self.stop.wait(delay):
                    return
        if not self.envs:
            self.log(_("{server}: no environment left to follow here").format(server=self.server))

    def _retry_delay(self, exc: Exception, attempt: int) -> float | None:
        """Log why the connection failed; the delay before trying again, or None to stop
        following this server (a refusal that no retry can change)."""
        if isinstance(exc, ApiError):
            if exc.status and exc.status < 500:
                self.log(
                    _("{server}: {reason} Not following this server.").format(
                        server=self.server, reason=exc.message
                    )
                )
                for code in list(self.envs):
                    self.observer.dropped(self.server, code, exc.code, exc.message)
                self.observer.lost(self.server, exc.message, final=True)
                return None
            delay = backoff_delay(attempt)
            self.log(
                _("{server}: {reason}; reconnecting in {seconds} s").format(
                    server=self.server, reason=exc.message, seconds=f"{delay:.0f}"
                )
            )
            self.observer.lost(self.server, exc.message, final=False)
            return delay
        delay = backoff_delay(attempt)
        reason = exc.message if isinstance(exc, AgentError) else str(exc) or type(exc).__name__
        self.observer.lost(self.server, reason, final=False)
        self.log(
            _("{server}: connection lost ({reason}); reconnecting in {seconds} s").format(
                server=self.server, reason=reason, seconds=f"{delay:.0f}"
            )
        )
        return delay

    def _queries(self) -> list[StatusQuery]:
        return [StatusQuery(environment=c, token=self.tokens[c]) for c in sorted(self.envs)]

    def _follow_once(self, client: AgentClient) -> int:
        session = client.open_event_session(self._queries(), self.workstation_id)
        self.sessions_opened += 1
        self.observer.connected(self.server, sorted(self.envs))
        for refused in session.refused:
            self._drop(refused.environment, refused.message or refused.state, refused.state)
        if not self.envs:
            return 0
        start = self.ledger.cursor(self.server)
        cursor = start if start is not None else session.last_event_id
        self.log(
            ngettext(
                "{server}: following {count} environment on one connection",
                "{server}: following {count} environments on one connection",
                len(self.envs),
            ).format(server=self.server, count=len(self.envs))
        )
        self._catch_up(client)
        return self._stream(client, session.session, cursor)

    def _catch_up(self, client: AgentClient) -> None:
        """Deliver every ready file not yet delivered here (one request for all)."""
        answer = client.pending_my_files(self._queries(), self.workstation_id)
        for entry in answer.environments:
            if entry.state != "ok":
                self._drop(entry.environment, entry.message or entry.state, entry.state)
                continue
            for file in entry.files:
                if not self._deliver(client, entry.environment, file):
                    return

    def _stream(self, client: AgentClient, session: str, cursor: int) -> int:
        with client.event_stream(session, cursor) as stream:
            self._socket = stream.socket
            for received in stream.events(self._lines(client, stream.lines())):
                if self.stop.is_set() or self._changed.is_set():
                    break
                if received.event is None:
                    self.log(f"{self.server}: ignored an event this agent does not understand")
                else:
                    self._handle(client, received.event)
                with contextlib.suppress(ValueError):
                    self.ledger.set_cursor(self.server, int(received.last_event_id))
            return stream.retry_ms or 3000

    def _lines(self, client: AgentClient, lines: Iterator[str]) -> Iterator[str]:
        # Heartbeats arrive as lines too: a change of links, and files due to be tried
        # again, are seen at the latest then.
        for line in lines:
            if self._changed.is_set():
                return
            self.observer.contact(self.server)
            self._retry_unplaced(client)
            yield line

    # -- events -------------------------------------------------------------------------------

    def _handle(self, client: AgentClient, event: ServerEvent) -> None:
        code = event.environment
        if code not in self.envs:
            return  # an environment no longer followed
        match event:
            case FileReady():
                self._deliver(client, code, event.as_file())
            case FileFailed(name=name, error=error):
                self.log(
                    _("{environment}: {name} could not be made: {error}").format(
                        environment=code, name=name, error=error
                    )
                )
            case TokenRevoked(workstation_id=workstation_id, by_user=by_user):
                if workstation_id == self.workstation_id:
                    said = (
                        _(
                            "access to {environment} from this workstation was revoked by you, "
                            "from the portal. To link it again: save the settings for "
                            "{environment} and run `koppel link FILE`."
                        )
                        if by_user
                        else _(
                            "access to {environment} from this workstation was revoked by its "
                            "administrator. To link it again: save the settings for "
                            "{environment} and run `koppel link FILE`."
                        )
                    )
                    self._drop(code, said.format(environment=code), "token_revoked")
            case EnvironmentConverted(from_update=before, to_update=update):
                self._drop(
                    code,
                    _(
                        "{environment} was converted from update {before} to {update}. Install "
                        'the agent of update {update} ("Save installation" on its portal); your '
                        "links are kept."
                    ).format(environment=code, before=before, update=update),
                    "update_mismatch",
                )
            case ConnectorBlocked(connector=connector):
                self.log(
                    _(
                        "{environment}: the app connector {connector} of {environment} was "
                        "blocked by its administrator; files cannot be received until it is "
                        "opened again."
                    ).format(environment=code, connector=connector)
                )
            case OtherEvent(kind=kind):
                self.log(f"{code}: event {kind}")

    def _deliver(self, client: AgentClient, code: str, file: OutputFileOut) -> bool:
        """Place a file unless stopping; False when stopping. A file that cannot be
        placed is reported, skipped and tried again later: it never stops the others."""
        env = self.envs.get(code)
        if env is None:
            return True
        with self.busy:
            if self.stop.is_set():
                return False
            try:
                target = deliver(
                    client, self.ledger, code, env.name, self.tokens[code], file, self.log
                )
            except ApiError as exc:
                if exc.status and exc.status < 500:  # a refusal: no retry changes it
                    self.unplaced.pop((code, file.id), None)
                    self.log(
                        _("{environment}: could not receive {name}: {reason}").format(
                            environment=code, name=file.name, reason=exc.message
                        )
                    )
                else:
                    self._skip(code, env.name, file, exc.message, saving=False)
            except CannotSave as exc:
                self._skip(code, env.name, file, exc.reason, saving=True)
            except Exception as exc:  # anything else must not stop the other files either
                reason = exc.message if isinstance(exc, AgentError) else repr(exc)
                self._skip(code, env.name, file, reason, saving=False)
            else:
                self.unplaced.pop((code, file.id), None)
                if target is not None:
                    self.observer.received(code, target)
        return True

    def _skip(
        self, code: str, env_name: str, file: OutputFileOut, reason: str, *, saving: bool
    ) -> None:
        """Remember a file that could not be placed; log it, and when this workstation
        cannot save it (something only the user can fix), tell the user too; both once
        per reason."""
        key = (code, file.id)
        before = self.unplaced.get(key)
        attempts = before.attempts + 1 if before else 1
        delay = min(RETRY_CAP, RETRY_FIRST * 2 ** min(attempts - 1, 16))
        self.unplaced[key] = Unplaced(file, reason, attempts, time.monotonic() + delay)
        seconds = f"{delay:.0f}"
        if before is not None and before.reason == reason:
            again = (
                _("{environment}: still cannot save {name}; trying again in {seconds} s")
                if saving
                else _("{environment}: still cannot receive {name}; trying again in {seconds} s")
            )
            self.log(again.format(environment=code, name=file.name, seconds=seconds))
            return
        first = (
            _(
                "{environment}: could not save {name}: {reason}; skipped, trying again in "
                "{seconds} s and at every start of `koppel watch`"
            )
            if saving
            else _(
                "{environment}: could not receive {name}: {reason}; skipped, trying again in "
                "{seconds} s and at every start of `koppel watch`"
            )
        )
        self.log(first.format(environment=code, name=file.name, reason=reason, seconds=seconds))
        if saving:
            notify.problem(
                _("Koppel: {environment}").format(environment=env_name),
                _("{name} could not be saved: {reason}. Koppel tries again by itself.").format(
                    name=file.name, reason=reason
                ),
                self.log,
            )

    def _retry_unplaced(self, client: AgentClient) -> None:
        """Try again the files whose time has come (on this follower's own thread)."""
        now = time.monotonic()
        for (code, _id), entry in list(self.unplaced.items()):
            if code not in self.envs:
                self.unplaced.pop((code, _id), None)
            elif entry.due <= now and not self._deliver(client, code, entry.file):
                return

    def _drop(self, code: str, message: str, state: str) -> None:
        if self.envs.pop(code, None) is not None:
            self.log(
                _("{environment}: {reason}. No longer following {environment}.").format(
                    environment=code, reason=message.rstrip(".")
                )
            )
            self.observer.dropped(self.server, code, state, message)


@contextlib.contextmanager
def _single_watcher() -> Iterator[None]:
    """Refuse a second watcher of the same user (``koppel watch`` or the background
    agent): two would deliver files twice."""
    with locks.attempt(paths.ensure_data_dir() / "watch.lock") as mine:
        if not mine:
            raise AgentError(
                _(
                    "Another `koppel watch` or the background agent (`koppel agent run`) of "
                    "this user is receiving files; stop it first (`koppel agent stop`)."
                )
            )
        yield


def _send_queue(log: Log) -> None:
    """Send what ``koppel queue`` holds."""
    try:
        results = send_pending(progress=False)
    except Exception as exc:  # the queue reports its own problems; keep watching
        log(_("queue: sending failed ({reason})").format(reason=exc))
        return
    for result in results:
        if result.state != "queued":
            log(f"queue: {result.environment}: {result.state} {result.message}".rstrip())


Groups = dict[str, tuple[list[LinkedEnv], dict[str, str]]]


def _linked(only: list[str] | None, log: Log) -> tuple[str | None, Groups]:
    """This workstation's id and, per server, the linked environments to follow with
    their tokens (those whose token is missing are reported and left out)."""
    state = state_mod.read().state
    wanted = {o.upper() for o in only or []}
    envs = [e for e in state.environments.values() if not wanted or e.code in wanted]
    if state.workstation is None or not envs:
        return None, {}
    tokens = TokenVault(state).get_many(envs)
    for env in envs:
        if not tokens.get(env.code):
            log(
                _(
                    "{environment}: its token is missing from this workstation; not following it."
                ).format(environment=env.code)
            )
    usable = [e for e in envs if tokens.get(e.code)]
    groups = {
        server: (group, {e.code: str(tokens[e.code]) for e in group})
        for server, group in group_by_server(usable).items()
    }
    return state.workstation.id, groups


def _modified(path: os.PathLike[str]) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


def run(
    only: list[str] | None = None,
    log: Log = log_line,
    *,
    observer: Observer | None = None,
    background: bool = False,
) -> int:
    """Watch until SIGINT/SIGTERM; the exit code. Links made or removed while watching
    are followed from the next look at the links (every few seconds).

    ``background`` (``koppel agent run``): keep running while nothing is linked or
    followed (links may come later), and leave the queue to the caller, which sends it
    as soon as a server is reachable again rather than once a minute."""
    observer = observer or Observer()
    with _single_watcher():
        state_path = paths.state_file()
        seen = _modified(state_path)
        workstation, groups = _linked(only, log)
        if not background and (workstation is None or not groups):
            log(_("No environment is linked; link one with `koppel link FILE`."))
            return 0
        stop = threading.Event()
        ledger = Ledger()
        followers: dict[str, Follower] = {}

        def follow(server: str, envs: list[LinkedEnv], tokens: dict[str, str]) -> None:
            if not envs:
                observer.unfollowed(server)
            follower = followers.get(server)
            if follower is not None and follower.is_alive():
                if follower.follow(envs, tokens):
                    log(
                        ngettext(
                            "{server}: the links changed; now following {count} environment",
                            "{server}: the links changed; now following {count} environments",
                            len(envs),
                        ).format(server=server, count=len(envs))
                    )
                return
            if envs and workstation is not None:
                follower = Follower(server, envs, tokens, workstation, ledger, stop, log, observer)
                followers[server] = follower
                follower.start()

        def _stop(_signum: int, _frame: Any) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        count = sum(len(group) for group, _tokens in groups.values())
        log(_watching(count, len(groups)))
        for server, (group, tokens) in groups.items():
            follow(server, group, tokens)
        if not background:
            _send_queue(log)
        queued_at = time.monotonic()
        while not stop.wait(TICK):
            observer.tick()
            if (modified := _modified(state_path)) != seen:
                seen = modified
                changed_ws, groups = _linked(only, log)
                if workstation is None:
                    workstation = changed_ws  # the first link made while running
                # No link left at all reads as no workstation: every server is let go.
                if changed_ws == workstation or not groups:
                    for server in set(followers) | set(groups):
                        group, tokens = groups.get(server, ([], {}))
                        follow(server, group, tokens)
            if background:
                continue
            if not any(f.is_alive() for f in followers.values()):
                log(_("nothing left to follow; stopping"))
                break
            if time.monotonic() - queued_at >= QUEUE_INTERVAL:
                _send_queue(log)
                queued_at = time.monotonic()
        stop.set()
        # Let a file being placed finish (never leave a part behind), then leave: the
        # followers' threads are daemons blocked on their sockets.
        for follower in followers.values():
            if follower.busy.acquire(timeout=60):
                follower.busy.release()
        log(_("stopped"))
        sys.stdout.flush()
        return 0
