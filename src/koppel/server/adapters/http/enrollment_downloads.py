"""The responses of "Save settings", the bundle and "Save installation", the same for the
agent API (HTTP Basic) and the portal (a session)."""

from __future__ import annotations

from typing import Any

from fastapi.responses import FileResponse, JSONResponse

from koppel.protocol.settings_file import SETTINGS_SUFFIX
from koppel.protocol.updates import Update
from koppel.server.domain.links.installation import AgentPackages
from koppel.server.domain.model import Environment

# A settings file holds a single-use enrollment code: no cache may keep a copy.
_NO_STORE = "no-store"


def _attachment(document: dict[str, Any], filename: str) -> JSONResponse:
    return JSONResponse(
        document,
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": _NO_STORE,
        },
    )


def settings_download(document: dict[str, Any]) -> JSONResponse:
    """One environment's settings file, as ``<CODE>.koppel``."""
    return _attachment(document, f"{document['environment']['code']}{SETTINGS_SUFFIX}")


def bundle_download(bundle: dict[str, Any]) -> JSONResponse:
    """A firm's bundle of client settings, as ``<FIRM>-clients.koppel``."""
    return _attachment(bundle, f"{bundle['firm']}-clients{SETTINGS_SUFFIX}")


def installation_download(packages: AgentPackages, environment: Environment) -> FileResponse:
    """The agent wheel of the environment's update."""
    wheel = packages.wheel_for(Update.parse(environment.update))
    return FileResponse(
        wheel,
        media_type="application/octet-stream",
        filename=wheel.name,
        headers={"Koppel-Agent-Update": environment.update, "Cache-Control": _NO_STORE},
    )
