"""Models of the event stream (Server-Sent Events) and its sessions."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from koppel.protocol._model import ProtocolModel
from koppel.protocol.api import StatusQuery

EventKind = Literal[
    "file_ready",
    "file_failed",
    "token_revoked",
    "environment_converted",
    "connector_blocked",
]
# How long an agent waits before reconnecting (the SSE ``retry:`` field), milliseconds.
RETRY_MS = 3000
# A comment line every this many seconds keeps proxies from closing an idle stream.
HEARTBEAT_SECONDS = 15.0
LAST_EVENT_ID_HEADER = "Last-Event-ID"


class EventSessionRequest(ProtocolModel):
    """Open one event session for all environments an agent linked on this server."""

    environments: list[StatusQuery] = Field(min_length=1, max_length=20000)
    workstation_id: str = Field(min_length=1, max_length=64)


class SessionRefusal(ProtocolModel):
    """An environment that is not part of the session, and why."""

    environment: str
    state: str
    message: str = ""


class EventSession(ProtocolModel):
    """The session to stream with (``GET /events/{session}``) until it expires."""

    session: str
    expires: datetime
    environments: list[str]
    refused: list[SessionRefusal] = Field(default_factory=list)
    last_event_id: int = 0  # the newest event now: where a fresh agent can start


class EventOut(ProtocolModel):
    """The JSON ``data:`` of one event; its SSE ``id:`` is ``id``."""

    id: int
    kind: str
    environment: str
    created: datetime
    payload: dict[str, Any] = Field(default_factory=dict)
