"""An event wakes only the streams it concerns (issue 14: thousands of agents hold event
streams on one replica). Every stream used to query the database on every event of the
host; now the process reads whom new events concern once, and a stream queries only for
an event of its own environments and users. The app is served on a port; its database
statements are counted where SQLAlchemy sends them."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import event

from app_client import UPDATE
from dossier_support import link, open_event_session
from harness import Server, Workstation

STREAMS = 12


@contextmanager
def stream_reads(server: Server) -> Iterator[list[str]]:
    """The statements that read a stream's events (EventRepository.after), as sent."""
    engine = server.services.database.engine  # type: ignore[attr-defined]
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM events" in statement and "events.membership_id IN" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _follow(url: str, session: str, lines: queue.Queue[str], stop: threading.Event) -> None:
    try:
        with (
            httpx.Client(timeout=httpx.Timeout(10, read=60)) as client,
            client.stream("GET", f"{url}/api/v1/events/{session}", headers=UPDATE) as stream,
        ):
            for line in stream.iter_lines():
                lines.put(line)
                if stop.is_set():
                    return
    except httpx.HTTPError:
        if not stop.is_set():  # the server ending the streams as it stops is expected
            raise


def _push(server: Server, env: str, key: str, login: str, name: str) -> None:
    pushed = httpx.post(
        f"{server.url}/api/v1/environments/{env}/users/{login}/files",
        content=b"%PDF-1.4\n",
        headers={**UPDATE, "Authorization": f"Bearer {key}", "Koppel-Filename": name},
        timeout=30,
    )
    assert pushed.status_code == 201, pushed.text


def test_an_event_wakes_only_the_streams_it_concerns(
    demo_server: Server, workstation: Callable[..., Workstation]
) -> None:
    ws = workstation("anna-laptop")
    token = link(ws, demo_server, "C20001", "anna")
    keys = {
        env: demo_server.ok("integrations", "create", env, "payroll", "--json").json()["key"]
        for env in ("C20001", "F10001")
    }
    stop = threading.Event()
    followed: list[queue.Queue[str]] = []
    for _ in range(STREAMS):
        session = open_event_session(demo_server.url, ws, "C20001", token)
        lines: queue.Queue[str] = queue.Queue()
        args = (demo_server.url, session, lines, stop)
        threading.Thread(target=_follow, args=args, daemon=True).start()
        assert lines.get(timeout=10).startswith("retry:")
        followed.append(lines)
    try:
        with stream_reads(demo_server) as reads:
            # anna's file in another environment: none of these streams' business.
            _push(demo_server, "F10001", keys["F10001"], "anna", "elsewhere.pdf")
            _push(demo_server, "C20001", keys["C20001"], "anna", "mine.pdf")
            for lines in followed:
                while "mine.pdf" not in (line := lines.get(timeout=10)):
                    assert "elsewhere.pdf" not in line
        # One read per stream, for its own file; none for the other environment's.
        assert len(reads) == STREAMS, len(reads)
    finally:
        stop.set()
