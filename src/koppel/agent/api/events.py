"""The events of the stream (``GET /events/{session}``), one type per kind.

The SSE ``event:`` field names the kind; its ``data:`` is an :class:`EventOut` whose
payload each type reads here, so that no caller digs in an untyped dictionary.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from koppel.protocol.events import EventOut
from koppel.protocol.files import OutputFileOut


@dataclass(frozen=True)
class FileReady:
    """A file in My files became ready to download."""

    environment: str
    created: datetime
    file_id: int
    name: str
    size: int | None
    sha256: str | None

    def as_file(self) -> OutputFileOut:
        """The file as ``GET files`` would list it."""
        return OutputFileOut(
            id=self.file_id,
            environment=self.environment,
            name=self.name,
            media_type="application/octet-stream",
            size=self.size,
            sha256=self.sha256,
            state="ready",
            source="job",
            created=self.created,
        )


@dataclass(frozen=True)
class FileFailed:
    """A file in My files could not be made."""

    environment: str
    name: str | None
    error: str | None


@dataclass(frozen=True)
class TokenRevoked:
    """A workstation's token was revoked (by its user in the portal, or an administrator)."""

    environment: str
    workstation_id: str | None
    by_user: bool


@dataclass(frozen=True)
class EnvironmentConverted:
    """The environment moved to another update."""

    environment: str
    from_update: str | None
    to_update: str | None


@dataclass(frozen=True)
class ConnectorBlocked:
    """The environment's app connector was blocked by its administrator."""

    environment: str
    connector: str | None


@dataclass(frozen=True)
class OtherEvent:
    """A kind this agent only mentions."""

    environment: str
    kind: str


ServerEvent = (
    FileReady | FileFailed | TokenRevoked | EnvironmentConverted | ConnectorBlocked | OtherEvent
)


def _text(payload: dict[str, Any], key: str) -> str | None:
    value = payload.get(key)
    return None if value is None else str(value)


def parse_event(kind: str, data: str) -> ServerEvent:
    """The typed event of an SSE ``event:`` kind and its ``data:``; ValueError when this
    agent does not understand it."""
    try:
        event = EventOut.model_validate(json.loads(data))
    except ValidationError as exc:
        raise ValueError(str(exc)) from exc
    code, payload = event.environment, event.payload
    if kind == "file_ready":
        try:
            file_id = int(payload["file_id"])
        except (KeyError, TypeError) as exc:
            raise ValueError("file_ready without a file id") from exc
        return FileReady(
            environment=code,
            created=event.created,
            file_id=file_id,
            name=str(payload.get("name") or f"file-{payload['file_id']}"),
            size=payload.get("size"),
            sha256=payload.get("sha256"),
        )
    if kind == "file_failed":
        return FileFailed(code, _text(payload, "name"), _text(payload, "error"))
    if kind == "token_revoked":
        return TokenRevoked(code, _text(payload, "workstation_id"), payload.get("reason") == "user")
    if kind == "environment_converted":
        return EnvironmentConverted(
            code, _text(payload, "from_update"), _text(payload, "to_update")
        )
    if kind == "connector_blocked":
        return ConnectorBlocked(code, _text(payload, "connector"))
    return OtherEvent(code, kind)
