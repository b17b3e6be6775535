"""``GET environments/{env}/upload-rules``: the size limit and the file extensions an
environment accepts, so the agent refuses a file before it sends any byte of it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from koppel.protocol.dossier import UploadRules
from koppel.protocol.wire import API_PREFIX
from koppel.server.adapters.http.dependencies import services, token_owner
from koppel.server.adapters.http.errors import ERROR_RESPONSES
from koppel.server.domain.model import TokenView
from koppel.server.domain.transfer import extensions
from koppel.server.services import Services

router = APIRouter(
    prefix=f"{API_PREFIX}/environments/{{env}}", tags=["uploads"], responses=ERROR_RESPONSES
)


@router.get("/upload-rules")
def upload_rules(
    owner: Annotated[TokenView, Depends(token_owner)],
    svc: Annotated[Services, Depends(services)],
) -> UploadRules:
    """The largest file and the file extensions this environment accepts (checked again on
    every upload: ``too_large``, ``extension_not_allowed``)."""
    with svc.transaction() as uow:
        allowed = extensions.allowlist(uow.extensions, owner.environment)
    return UploadRules(
        environment=owner.environment.code,
        max_bytes=svc.settings.upload_limits().max_bytes,
        allowed_extensions=allowed.ordered(),
        default=allowed.default,
    )
