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
from koppel.protocol.updates import UPDATE_HEADER, Update
from koppel.server.adapters.http.params import EnvCode
from koppel.server.domain import linking
from koppel.server.domain.errors import DomainError
from koppel.server.domain.model import TokenView
from koppel.server.services import Services

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
    value: Annotated[str | None, Header(alias=UPDATE_HEADER, include_in_schema=True)] = None,
) -> str:
    """The update the agent states in ``Koppel-Update``."""
    if value is None:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            f"Send the agent's update in the {UPDATE_HEADER} header (e.g. 2026.2).",
        )
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
