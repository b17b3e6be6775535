"""The event broker wakes only the streams an event concerns (issue 14): thousands of
idle streams on a replica are not all woken by every event of the host, and a stream
learns from the broker's window, without a query, that newer events are not its own.
The broker's database reads are plain functions here: what they return is the point."""

from __future__ import annotations

import asyncio
import time

from koppel.server.adapters.signals import EventBroker
from koppel.server.domain.events import EventHead, Scope

ANNA_C20001 = Scope(membership_ids=(11,), environment_ids=(1,))
BRAM_C20002 = Scope(membership_ids=(22,), environment_ids=(2,))


class Events:
    """What the database holds: event heads, newest last."""

    def __init__(self) -> None:
        self.heads: list[EventHead] = []

    def add(self, environment_id: int, membership_id: int | None) -> None:
        self.heads.append(EventHead(len(self.heads) + 1, environment_id, membership_id))

    def last_id(self) -> int:
        return len(self.heads)

    def between(self, after: int, upto: int) -> list[EventHead]:
        return [h for h in self.heads if after < h.id <= upto]


async def _waiting(broker: EventBroker, scope: Scope, woken: list[str], name: str) -> None:
    await broker.wait_beyond(broker.latest, 5, scope)
    woken.append(name)


def test_an_event_wakes_the_streams_it_concerns_and_no_other() -> None:
    events = Events()
    broker = EventBroker(events.last_id, poll=60, read_heads=events.between)

    async def scenario() -> list[str]:
        broker.start()
        woken: list[str] = []
        anna = asyncio.create_task(_waiting(broker, ANNA_C20001, woken, "anna"))
        bram = asyncio.create_task(_waiting(broker, BRAM_C20002, woken, "bram"))
        anyone = asyncio.create_task(broker.wait_beyond(broker.latest, 5))  # no scope
        await asyncio.sleep(0.05)
        events.add(1, 11)  # anna's own event in C20001
        broker.notify()
        await asyncio.wait_for(anna, 2)
        await asyncio.wait_for(anyone, 2)
        await asyncio.sleep(0.2)
        assert not bram.done()  # still asleep: not bram's business
        events.add(2, None)  # an event of all of C20002
        broker.notify()
        await asyncio.wait_for(bram, 2)
        return woken

    try:
        assert asyncio.run(scenario()) == ["anna", "bram"]
    finally:
        broker.stop()


def test_the_window_says_which_newer_events_are_a_streams() -> None:
    events = Events()
    events.add(1, 11)
    broker = EventBroker(events.last_id, poll=60, read_heads=events.between)
    broker.start()
    try:
        start = broker.latest
        events.add(2, 22)
        events.add(2, None)
        broker.notify()
        for _ in range(100):
            if broker.latest == 3:
                break
            time.sleep(0.01)
        assert not broker.concerns(start, 3, ANNA_C20001)
        assert broker.concerns(start, 3, BRAM_C20002)
        # Before the window (events the broker never read): the stream must ask.
        assert broker.concerns(0, 3, ANNA_C20001)
    finally:
        broker.stop()


def test_without_the_new_events_every_stream_is_woken() -> None:
    events = Events()

    def broken(_after: int, _upto: int) -> list[EventHead]:
        raise OSError("the database went away")

    broker = EventBroker(events.last_id, poll=60, read_heads=broken)

    async def scenario() -> None:
        broker.start()
        woken: list[str] = []
        bram = asyncio.create_task(_waiting(broker, BRAM_C20002, woken, "bram"))
        await asyncio.sleep(0.05)
        events.add(1, 11)
        broker.notify()
        await asyncio.wait_for(bram, 2)  # unknown events: streams read for themselves
        assert broker.concerns(0, 1, BRAM_C20002)

    try:
        asyncio.run(scenario())
    finally:
        broker.stop()
