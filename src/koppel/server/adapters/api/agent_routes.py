"""Routes of the agent API (see docs/agent-api.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.responses import FileResponse, JSONResponse

from koppel._version import __version__
from koppel.protocol.api import (
    LinkRequest,
    LinkResponse,
    MeResponse,
    ServerInfo,
    StatusRequest,
    StatusResponse,
    Workstation,
)
from koppel.protocol.device import BUNDLE, INSTALLATION, SETTINGS
from koppel.protocol.wire import API_PREFIX
from koppel.server.adapters.http.dependencies import (
    agent_update,
    downloader,
    services,
    token_owner,
)
from koppel.server.adapters.http.enrollment_downloads import (
    bundle_download,
    installation_download,
    settings_download,
)
from koppel.server.adapters.http.errors import ERROR_RESPONSES
from koppel.server.adapters.http.params import EnvCode
from koppel.server.domain.links import enrollment, linking
from koppel.server.domain.model import Account, TokenView
from koppel.server.services import Services

router = APIRouter(prefix=API_PREFIX, responses=ERROR_RESPONSES)
Svc = Annotated[Services, Depends(services)]


def _info(svc: Services) -> ServerInfo:
    return ServerInfo(
        server_version=__version__,
        supported_updates=[str(u) for u in svc.policy.supported_updates],
        host_id=svc.host_id,
    )


@router.get("/info", tags=["server"])
def info(svc: Svc) -> ServerInfo:
    """The server's version, the updates it hosts and its host's identity."""
    return _info(svc)


@router.get("/environments/{env}/settings", tags=["settings"])
def save_settings(
    env: EnvCode, account: Annotated[Account, Depends(downloader(SETTINGS))], svc: Svc
) -> JSONResponse:
    """ "Save settings": a settings file with a single-use enrollment code."""
    with svc.transaction() as uow:
        document = enrollment.settings_for(uow.core, svc.policy, account, env)
    return settings_download(document)


@router.get("/environments/{env}/settings-bundle", tags=["settings"])
def save_bundle(
    env: EnvCode, account: Annotated[Account, Depends(downloader(BUNDLE))], svc: Svc
) -> JSONResponse:
    """Settings for every client environment of this firm where the user may save them;
    every other client of the firm is in ``skipped``, with its reason."""
    with svc.transaction() as uow:
        bundle = enrollment.bundle_for(uow.core, svc.policy, account, env)
    return bundle_download(bundle)


@router.get(
    "/environments/{env}/installation",
    tags=["settings"],
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def save_installation(
    env: EnvCode, account: Annotated[Account, Depends(downloader(INSTALLATION))], svc: Svc
) -> FileResponse:
    """ "Save installation": the agent wheel of the environment's update."""
    with svc.transaction() as uow:
        environment = enrollment.installation_for(uow.core, account, env)
    return installation_download(svc.packages, environment)


@router.post("/links", tags=["linking"])
def link(
    request: LinkRequest, update: Annotated[str, Depends(agent_update)], svc: Svc
) -> LinkResponse:
    """Exchange settings documents for user tokens, all or nothing."""
    with svc.transaction() as uow:
        links = linking.link(
            uow.core, svc.policy, update, request.workstation, request.settings, request.dry_run
        )
    return LinkResponse(links=links)


@router.post("/status", tags=["linking"])
def status(
    request: StatusRequest, update: Annotated[str, Depends(agent_update)], svc: Svc
) -> StatusResponse:
    """The status of many links on this server, in one request."""
    with svc.transaction() as uow:
        answers = linking.statuses(uow.core, svc.policy, update, request.environments)
    info = _info(svc)
    return StatusResponse(
        server_version=info.server_version,
        supported_updates=info.supported_updates,
        statuses=answers,
    )


@router.get("/environments/{env}/me", tags=["linking"])
def me(owner: Annotated[TokenView, Depends(token_owner)], svc: Svc) -> MeResponse:
    """Whose token this is, and which functions they hold in the environment."""
    with svc.transaction() as uow:
        functions = linking.functions_of(uow.core, owner)
    return MeResponse(
        environment=owner.environment.code,
        environment_name=owner.environment.name,
        update=owner.environment.update,
        login=owner.account.login,
        display_name=owner.account.display_name,
        workstation=Workstation(id=owner.token.workstation_id, name=owner.token.workstation_name),
        functions=sorted(f.value for f in functions),
        token_created=owner.token.created_at,
        token_last_used=owner.token.last_used_at,
    )


@router.delete("/environments/{env}/link", status_code=204, tags=["linking"])
def unlink(owner: Annotated[TokenView, Depends(token_owner)], svc: Svc) -> Response:
    """Revoke the calling workstation's token (``koppel unlink``)."""
    with svc.transaction() as uow:
        linking.unlink(uow.core, svc.policy, owner)
    return Response(status_code=204)
