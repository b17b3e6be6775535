"""The agent API as the agent sees it: one client (a method per route) and typed events.

Only this package speaks HTTP; its private modules hold the plumbing (httpx, tus, SSE).
Its names load on first use: a download (``content``) needs neither the protocol's
models nor pydantic, and importing this package must not load them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from koppel.agent.api._http import server_base
    from koppel.agent.api.client import (
        AgentClient,
        CreatedItem,
        EventStream,
        ReceivedEvent,
        StreamBroken,
    )
    from koppel.agent.api.content import Content, ContentClient
    from koppel.agent.api.credentials import Credential
    from koppel.agent.api.events import (
        ConnectorBlocked,
        EnvironmentConverted,
        FileFailed,
        FileReady,
        OtherEvent,
        ServerEvent,
        TokenRevoked,
    )

_WHERE = {
    "server_base": "_http",
    "AgentClient": "client",
    "CreatedItem": "client",
    "EventStream": "client",
    "ReceivedEvent": "client",
    "StreamBroken": "client",
    "Content": "content",
    "ContentClient": "content",
    "Credential": "credentials",
    "ConnectorBlocked": "events",
    "EnvironmentConverted": "events",
    "FileFailed": "events",
    "FileReady": "events",
    "OtherEvent": "events",
    "ServerEvent": "events",
    "TokenRevoked": "events",
}

__all__ = [
    "AgentClient",
    "ConnectorBlocked",
    "Content",
    "ContentClient",
    "CreatedItem",
    "Credential",
    "EnvironmentConverted",
    "EventStream",
    "FileFailed",
    "FileReady",
    "OtherEvent",
    "ReceivedEvent",
    "ServerEvent",
    "StreamBroken",
    "TokenRevoked",
    "server_base",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # once found, an ordinary attribute
    return value
