"""``GET environments/{env}/release`` and its wheel: the newest agent release of the
environment's update, so that a linked agent tells its user about a newer one
(``koppel update check``) and installs it (``koppel update install``).

Per environment, with the link's token, rather than per update: the environment decides the
update (the agent is never offered another update's release: that stays
``update_mismatch``), and a workstation holds a token for an environment, not for an
update. The wheel is the one "Save installation" hands out for the same update."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse

from koppel.protocol.api import AgentRelease
from koppel.protocol.wire import API_PREFIX, SHA256_HEADER
from koppel.server.adapters.http.dependencies import services, token_owner
from koppel.server.adapters.http.errors import ERROR_RESPONSES
from koppel.server.domain.links import installation
from koppel.server.domain.model import TokenView
from koppel.server.services import Services

router = APIRouter(
    prefix=f"{API_PREFIX}/environments/{{env}}", tags=["updates"], responses=ERROR_RESPONSES
)
Owner = Annotated[TokenView, Depends(token_owner)]
Svc = Annotated[Services, Depends(services)]


@router.get("/release")
def release(owner: Owner, svc: Svc) -> AgentRelease:
    """The newest agent release of the environment's update (404 ``not_found`` when the
    server has none to offer)."""
    wheel = installation.release_for(svc.packages, owner.environment)
    code = quote(owner.environment.code, safe="")
    return AgentRelease(
        update=owner.environment.update,
        version=wheel.version,
        sha256=wheel.sha256,
        size=wheel.size,
        download=f"{API_PREFIX}/environments/{code}/release/wheel",
    )


@router.get(
    "/release/wheel",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def release_wheel(owner: Owner, svc: Svc) -> FileResponse:
    """The wheel of that release; its SHA-256 is in ``Koppel-Sha256``."""
    wheel = installation.release_for(svc.packages, owner.environment)
    return FileResponse(
        wheel.path,
        media_type="application/octet-stream",
        filename=wheel.path.name,
        headers={SHA256_HEADER: wheel.sha256, "Koppel-Agent-Update": owner.environment.update},
    )
