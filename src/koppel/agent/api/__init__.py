"""The agent API as the agent sees it: one client (a method per route) and typed events.

Only this package speaks HTTP; its private modules hold the plumbing (httpx, tus, SSE).
"""

from koppel.agent.api._http import server_base
from koppel.agent.api.client import (
    AgentClient,
    Content,
    CreatedItem,
    EventStream,
    ReceivedEvent,
    StreamBroken,
)
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

__all__ = [
    "AgentClient",
    "ConnectorBlocked",
    "Content",
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
