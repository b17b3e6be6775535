"""A Server-Sent Events parser (WHATWG HTML, "Server-sent events", event stream
interpretation): ``data`` lines join with newlines, ``id`` sets the last event id (not
when it contains NUL), ``retry`` sets the reconnection time (digits only), a blank line
dispatches, lines starting with ``:`` are comments."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class SseEvent:
    """One dispatched event."""

    event: str
    data: str
    last_event_id: str


class SseParser:
    """Feed lines (without their line ending); get events; keeps id and retry."""

    def __init__(self, last_event_id: str = "") -> None:
        self.last_event_id = last_event_id
        self.retry_ms: int | None = None
        self.comments = 0
        self._event = ""
        self._data: list[str] = []

    def feed(self, line: str) -> SseEvent | None:
        """Process one line; the event it completes, if any."""
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            self.comments += 1
            return None
        field, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if field == "event":
            self._event = value
        elif field == "data":
            self._data.append(value)
        elif field == "id":
            if "\x00" not in value:
                self.last_event_id = value
        elif field == "retry" and value.isdigit():
            self.retry_ms = int(value)
        return None

    def _dispatch(self) -> SseEvent | None:
        data, kind = self._data, self._event
        self._data, self._event = [], ""
        if not data:
            return None
        return SseEvent(kind or "message", "\n".join(data), self.last_event_id)


def events(lines: Iterable[str], parser: SseParser) -> Iterator[SseEvent]:
    """The events of a stream of lines."""
    for line in lines:
        found = parser.feed(line.rstrip("\r"))
        if found is not None:
            yield found
