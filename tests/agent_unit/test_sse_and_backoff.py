"""The agent's Server-Sent Events parser (WHATWG event stream interpretation) and its
reconnect backoff."""

from __future__ import annotations

from koppel.agent.api._sse import SseParser, events
from koppel.agent.watching import BACKOFF_CAP, backoff_delay


def test_fields_comments_and_dispatch() -> None:
    parser = SseParser("7")
    stream = [
        "retry: 2500",
        ": heartbeat",
        "id: 8",
        "event: file_ready",
        'data: {"a":',
        "data:1}",
        "",
        "",  # a blank line without data dispatches nothing
        "id: bad\x00id",  # ignored: contains NUL
        "retry: soon",  # ignored: not digits
        "data: plain\r",
        "",
    ]
    found = list(events(stream, parser))
    assert [(e.event, e.data, e.last_event_id) for e in found] == [
        ("file_ready", '{"a":\n1}', "8"),
        ("message", "plain", "8"),
    ]
    assert parser.retry_ms == 2500 and parser.comments == 1


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    for attempt in range(30):
        delay = backoff_delay(attempt)
        ceiling = min(BACKOFF_CAP, 2.0**attempt)
        assert ceiling / 2 <= delay <= ceiling
    assert len({round(backoff_delay(5), 6) for _ in range(20)}) > 1
