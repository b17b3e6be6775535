"""In-process wake-ups, backed by polling the database so several replicas also work.

``EventBroker`` keeps the newest event id of the database. Streams wait for it to pass
their cursor. A thread reads ``max(events.id)`` once a second (one cheap query per
process, however many streams are open) and at once when this process records an event
(``notify``); waiting streams are woken through their event loop.

With the id, the thread reads whom the new events concern (``EventHead``: environment
and user, no payload) into a window of the latest ones. A woken stream asks the window
first: an event of another environment or user costs it no query; only the streams an
event concerns read it. Without the window every open stream would query the database on
every event of the host.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from collections.abc import Callable

from koppel.server.domain.events import EventHead, Scope, in_scope

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
# The newest events whose heads are kept (a stream further behind reads the database).
WINDOW = 10_000
HeadReader = Callable[[int, int], list[EventHead]]
_Waiter = tuple[asyncio.AbstractEventLoop, asyncio.Event]


class EventBroker:
    """The newest event id, and async waiting for it to grow."""

    def __init__(
        self,
        read_last_id: Callable[[], int],
        poll: float = POLL_SECONDS,
        read_heads: HeadReader | None = None,
    ) -> None:
        self._read = read_last_id
        self._read_heads = read_heads
        self._window: deque[EventHead] = deque(maxlen=WINDOW)
        self._floor = 0  # the window knows every event after this id (up to latest)
        self._poll = poll
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._closing = threading.Event()
        self._lock = threading.Lock()
        # The waiting streams (their loop and wake-up), indexed by what they wait for, so
        # that an event finds its streams without looking at the others: a user's own
        # events by user, an environment's by environment; ``_anyone`` wait for any.
        self._anyone: set[_Waiter] = set()
        self._by_user: dict[int, set[_Waiter]] = {}
        self._by_environment: dict[int, set[_Waiter]] = {}
        self._thread: threading.Thread | None = None
        self.latest = 0

    def start(self) -> None:
        """Start polling."""
        self.latest = self._safe_read()
        self._floor = self.latest
        self._thread = threading.Thread(target=self._run, name="koppel-events", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling and release every waiting stream."""
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(5)
        self._release()

    def close_streams(self) -> None:
        """The server is shutting down: let every stream end now (the agents reconnect),
        instead of holding the shutdown until their connections time out."""
        self._closing.set()
        self._release()

    @property
    def stopped(self) -> bool:
        """Whether the server is shutting down (streams end)."""
        return self._stop.is_set() or self._closing.is_set()

    def notify(self) -> None:
        """This process recorded an event: look now instead of within a second."""
        self._wake.set()

    async def wait_beyond(self, cursor: int, timeout: float, scope: Scope | None = None) -> int:
        """Wait until an event newer than ``cursor`` may exist (or ``timeout``); the
        newest id known. With ``scope``, only an event in it wakes the caller early:
        thousands of idle streams are not all woken by every event of the host."""
        if self.latest > cursor or self.stopped:
            return self.latest
        entry: _Waiter = (asyncio.get_running_loop(), asyncio.Event())
        self._register(entry, scope)
        try:
            if self.latest <= cursor:
                await asyncio.wait_for(entry[1].wait(), timeout)
        except TimeoutError:
            pass
        finally:
            self._unregister(entry, scope)
        return self.latest

    def _indexes(self, scope: Scope) -> tuple[tuple[dict[int, set[_Waiter]], tuple[int, ...]], ...]:
        """Where a waiter of ``scope`` is kept: by each of its users and environments."""
        return (self._by_user, scope.membership_ids), (self._by_environment, scope.environment_ids)

    def _register(self, entry: _Waiter, scope: Scope | None) -> None:
        with self._lock:
            if scope is None:
                self._anyone.add(entry)
                return
            for index, keys in self._indexes(scope):
                for key in keys:
                    index.setdefault(key, set()).add(entry)

    def _unregister(self, entry: _Waiter, scope: Scope | None) -> None:
        with self._lock:
            if scope is None:
                self._anyone.discard(entry)
                return
            for index, keys in self._indexes(scope):
                for key in keys:
                    place = index.get(key)
                    if place is not None:
                        place.discard(entry)
                        if not place:  # forget emptied places
                            del index[key]

    def _safe_read(self) -> int:
        try:
            return self._read()
        except Exception:  # the database may be briefly unavailable; try again later
            log.exception("reading the newest event id failed")
            return self.latest

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._poll)
            self._wake.clear()
            if self._stop.is_set():
                break
            newest = self._safe_read()
            if newest > self.latest:
                heads = self._learn(self.latest, newest)
                self.latest = newest
                self._release(heads)

    def _learn(self, after: int, upto: int) -> list[EventHead] | None:
        """Read whom the events after ``after`` concern into the window; them, or None
        when they could not be read."""
        heads: list[EventHead] | None = None
        if self._read_heads is not None:
            try:
                heads = self._read_heads(after, upto)
            except Exception:  # streams then read the database, as without the window
                log.exception("reading the new events failed")
        with self._lock:
            if heads is None:
                self._window.clear()
                self._floor = upto
                return None
            for head in heads:
                if len(self._window) == self._window.maxlen:
                    self._floor = self._window[0].id
                self._window.append(head)
        return heads

    def concerns(self, after: int, upto: int, scope: Scope) -> bool:
        """Whether an event after ``after`` up to ``upto`` is in ``scope``; True when the
        window does not reach back to ``after``."""
        with self._lock:
            if after < self._floor:
                return True
            # Newest first: a stream is usually only a few events behind.
            for head in reversed(self._window):
                if head.id <= after:
                    return False
                if head.id <= upto and in_scope(head, scope):
                    return True
        return False

    def _release(self, heads: list[EventHead] | None = None) -> None:
        """Wake the waiting streams that ``heads`` concern (all of them without heads:
        unknown events, or the server stopping)."""
        with self._lock:
            waiters = set(self._anyone)
            if heads is None:
                for index in (self._by_user, self._by_environment):
                    for place in index.values():
                        waiters |= place
            else:
                for head in heads:
                    if head.membership_id is not None:
                        waiters |= self._by_user.get(head.membership_id, set())
                    else:
                        waiters |= self._by_environment.get(head.environment_id, set())
        for loop, woken in waiters:
            with contextlib.suppress(RuntimeError):  # that loop is closed
                loop.call_soon_threadsafe(woken.set)


class LocalEvents:
    """The domain's ``EventPublisher`` and ``EventFeed`` within one process: publishing
    wakes the app's event broker and job workers (while the app runs, ``attach``); the
    feed is that broker (stopped when none is attached, so that streams end)."""

    def __init__(self) -> None:
        self._broker: EventBroker | None = None
        self._wake_workers: Callable[[], None] | None = None

    def attach(self, broker: EventBroker, wake_workers: Callable[[], None]) -> None:
        """The app started its broker and workers: wake them on ``published``."""
        self._broker, self._wake_workers = broker, wake_workers

    def detach(self) -> None:
        """The app stopped them."""
        self._broker, self._wake_workers = None, None

    def published(self) -> None:
        """Events or jobs were committed: wake the event streams and job workers now."""
        if self._broker is not None:
            self._broker.notify()
        if self._wake_workers is not None:
            self._wake_workers()

    @property
    def latest(self) -> int:
        """The newest event id the broker saw (0 without one)."""
        return self._broker.latest if self._broker is not None else 0

    @property
    def stopped(self) -> bool:
        """Whether streams should end: no broker runs, or it is stopping."""
        return self._broker is None or self._broker.stopped

    def concerns(self, after: int, upto: int, scope: Scope) -> bool:
        """The broker's ``concerns``; True (read it) without a broker."""
        return True if self._broker is None else self._broker.concerns(after, upto, scope)

    async def wait_beyond(self, cursor: int, timeout: float, scope: Scope | None = None) -> int:
        """The broker's ``wait_beyond``; at once without a broker."""
        if self._broker is None:
            return self.latest
        return await self._broker.wait_beyond(cursor, timeout, scope)
