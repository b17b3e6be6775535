"""Request-scoped helpers: the services, credentials, the agent's update, tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import (
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
)

from koppel.protocol.errors import ErrorCode
from koppel.protocol.updates import AGENT_UPDATE, UPDATE_HEADER, Update
from koppel.server.adapters.http.params import EnvCode
from koppel.server.domain import linking
from koppel.server.domain.errors import DomainError
from koppel.server.domain.model import TokenView
from koppel.server.services import Services

UPDATE_PATTERN = r"^[0-9]{4}\.[0-9]{1,2}$"
TUS_RESUMABLE = "Tus-Resumable"

_basic = HTTPBasic(auto_error=False, description="The user's login and password.")
_bearer = HTTPBearer(auto_error=False, description="A user token from linking.")


def services(request: Request) -> Services:
    """The process's services, set on the app at creation."""
    found: Services = request.app.state.services
    return found


def credentials(
    given: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
) -> HTTPBasicCredentials:
    """Login and password from HTTP Basic, or ``invalid_credentials``."""
    if given is None:
        raise DomainError(
            ErrorCode.INVALID_CREDENTIALS,
            "Sign in with your login and password (HTTP Basic) to save settings or the "
            "installation.",
        )
    return given


def agent_update(
    value: Annotated[
        str,
        Header(
            alias=UPDATE_HEADER,
            pattern=UPDATE_PATTERN,
            description="The agent's update, e.g. 2026.2.",
            examples=[str(AGENT_UPDATE)],
        ),
    ],
) -> str:
    """The update the agent states in ``Koppel-Update`` (a request without it is refused
    with ``errors.MISSING_HEADER``)."""
    try:
        return str(Update.parse(value))
    except ValueError as exc:
        raise DomainError(ErrorCode.VALIDATION_ERROR, str(exc)) from exc


def bearer_token(
    given: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The presented user token, or ``token_missing``."""
    if given is None or not given.credentials:
        raise DomainError(
            ErrorCode.TOKEN_MISSING,
            "This request needs the workstation's user token (Authorization: Bearer). "
            "Link the environment first with `koppel link FILE`.",
        )
    return given.credentials


def token_owner(
    env: EnvCode,
    token: Annotated[str, Depends(bearer_token)],
    update: Annotated[str, Depends(agent_update)],
    svc: Annotated[Services, Depends(services)],
) -> TokenView:
    """Authenticate a bearer token for environment ``env`` (checks it belongs to it)."""
    with svc.transaction() as repo:
        return linking.authenticate_token(repo, svc.policy, env, token, update)


def tus_resumable(
    value: Annotated[
        str,
        Header(
            alias=TUS_RESUMABLE,
            pattern=r"^1\.0\.0$",
            description="The tus protocol version: 1.0.0.",
            examples=["1.0.0"],
        ),
    ],
) -> str:
    """The tus version a client speaks; declared for the document (``TusHeaders`` refuses
    other versions with 412 before any route runs)."""
    return value
