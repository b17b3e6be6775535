"""The event stream: one event session (and one SSE connection) per agent and server,
for every environment the agent linked there.

The stream follows the Server-Sent Events format (WHATWG HTML, "Server-sent events"):
each event is ``id:``, ``event:`` and ``data:`` lines and a blank line; ``retry:`` tells
the agent how long to wait before reconnecting; lines starting with ``:`` are comments
(the heartbeat). A reconnecting agent sends ``Last-Event-ID`` and gets every later event.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from koppel.protocol.events import (
    HEARTBEAT_SECONDS,
    LAST_EVENT_ID_HEADER,
    RETRY_MS,
    EventOut,
    EventSession,
    EventSessionRequest,
    SessionRefusal,
)
from koppel.protocol.wire import API_PREFIX
from koppel.server.adapters.http.dependencies import agent_update, services
from koppel.server.adapters.http.errors import ERROR_RESPONSES
from koppel.server.adapters.http.params import header_text
from koppel.server.adapters.observability.routes import metrics_of
from koppel.server.domain import events as ev
from koppel.server.services import Services

_BATCH = 500

router = APIRouter(prefix=API_PREFIX, responses=ERROR_RESPONSES, tags=["events"])
Svc = Annotated[Services, Depends(services)]


@router.post("/event-sessions", status_code=201)
def open_session(
    body: EventSessionRequest, update: Annotated[str, Depends(agent_update)], svc: Svc
) -> EventSession:
    """Open one event session for many environments (tokens checked in bulk like
    ``/status``); environments that cannot join are listed in ``refused``."""
    with svc.transaction() as uow:
        opened = ev.open_session(
            uow.core,
            uow.events,
            svc.policy,
            update,
            body.environments,
            body.workstation_id,
        )
    session = opened.session
    return EventSession(
        session=opened.handle,
        expires=session.expires_at,
        environments=sorted(session.environment_codes.values()),
        refused=[SessionRefusal(environment=e, state=s, message=m) for e, s, m in opened.refused],
        last_event_id=opened.last_event_id,
    )


def _frame(event: ev.Event, code: str) -> str:
    data = EventOut(
        id=event.id,
        kind=event.kind,
        environment=code,
        created=event.created_at,
        payload=event.payload,
    ).model_dump_json()
    return f"id: {event.id}\nevent: {event.kind}\ndata: {data}\n\n"


@router.get(
    "/events/{session}",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream(
    session: str,
    request: Request,
    svc: Svc,
    last_event_id: Annotated[str | None, Header(alias=LAST_EVENT_ID_HEADER), header_text()] = None,
) -> StreamingResponse:
    """``text/event-stream`` of the session's events after ``Last-Event-ID`` (or from
    now), a heartbeat comment every 15 seconds; ends when the session expires."""

    def find() -> tuple[ev.StreamSession, int]:
        with svc.transaction() as uow:
            events = uow.events
            found = ev.session_for_stream(events, svc.policy, session)
            return found, events.last_id()

    found, newest = await run_in_threadpool(find)
    try:
        cursor = int(last_event_id) if last_event_id else newest
    except ValueError:
        cursor = newest
    feed = svc.feed

    def fetch(after: int) -> tuple[list[ev.Event], int | None]:
        """New events after ``after`` that the session may still see, and the id to read
        on from when there may be more at once (a full batch)."""
        with svc.transaction() as uow:
            batch = uow.events.after(after, found.scope, _BATCH)
            if not batch:
                return [], None
            allowed = ev.still_allowed(uow.core, svc.policy, found)
            more = batch[-1].id if len(batch) >= _BATCH else None
            return ev.visible(batch, allowed), more

    async def frames() -> AsyncIterator[str]:
        streams = metrics_of(request).event_streams
        streams.inc()
        try:
            async for frame in session_frames():
                yield frame
        finally:
            streams.dec()

    async def session_frames() -> AsyncIterator[str]:
        nonlocal cursor
        yield f"retry: {RETRY_MS}\n: koppel event stream\n\n"
        loop = asyncio.get_running_loop()
        beat = loop.time() + HEARTBEAT_SECONDS
        checked = -1
        while True:
            if feed.stopped or found.expires_at <= svc.policy.clock():
                return
            # Query the session's scope only when the database has something newer.
            if feed.latest > cursor and feed.latest != checked:
                checked = feed.latest
                if not feed.concerns(cursor, checked, found.scope):
                    cursor = checked  # none of them is this session's: nothing to read
                    continue
                batch, more = await run_in_threadpool(fetch, cursor)
                for event in batch:
                    yield _frame(event, found.environment_codes.get(event.environment_id, ""))
                if more is not None:
                    cursor, checked = more, -1  # more to read at once
                    continue
                # Everything up to ``checked`` in this scope has been read.
                cursor = max(cursor, checked)
            wait = beat - loop.time()
            if wait <= 0:
                yield ": heartbeat\n\n"
                beat = loop.time() + HEARTBEAT_SECONDS
                if await request.is_disconnected():
                    return
                continue
            await feed.wait_beyond(cursor, min(wait, HEARTBEAT_SECONDS), found.scope)

    return StreamingResponse(
        frames(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
