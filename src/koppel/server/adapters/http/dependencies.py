"""Request-scoped helpers: the services, credentials, the agent's update, tokens."""

from __future__ import annotations

from collections.abc import Callable
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
from koppel.server.adapters.db.credentials_repository import SqlDeviceGrantRepository
from koppel.server.adapters.http.password_attempts import attempt
from koppel.server.domain import device_approval, linking, sign_in
from koppel.server.domain.errors import DomainError
from koppel.server.domain.model import Account, TokenView
from koppel.server.services import Services

_basic = HTTPBasic(
    auto_error=False,
    description="For scripts: the user's login and password, under the portal's lockout; "
    "refused for accounts with two-step verification.",
)
_bearer = HTTPBearer(auto_error=False, description="A user token from linking.")
_approval = HTTPBearer(
    scheme_name="DeviceApproval",
    auto_error=False,
    description="The access token of an approval given in the browser (device "
    "authorization grant, RFC 8628: /api/v1/device/authorize and /api/v1/device/token).",
)


def services(request: Request) -> Services:
    """The process's services, set on the app at creation."""
    found: Services = request.app.state.services
    return found


def address(request: Request) -> str:
    """The caller's address (the proxy's client, when ``FORWARDED_ALLOW_IPS`` trusts it)."""
    return request.client.host if request.client else "unknown"


def downloader(action: str) -> Callable[..., Account]:
    """A dependency giving the account that may take ``action`` (settings, bundle,
    installation) of the route's environment: by an approval's access token, or, for
    scripts, by login and password under the one sign-in policy (lockout, recorded
    failures, and refused when the account has a second factor)."""

    def dependency(
        env: str,
        request: Request,
        svc: Annotated[Services, Depends(services)],
        basic: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
        approval: Annotated[HTTPAuthorizationCredentials | None, Depends(_approval)],
    ) -> Account:
        if approval is not None and device_approval.is_access_token(approval.credentials):
            with svc.transaction() as repo:
                return device_approval.access(
                    repo, SqlDeviceGrantRepository(repo.c), svc.policy,
                    approval.credentials, action, env,
                )  # fmt: skip
        if basic is None:
            raise DomainError(
                ErrorCode.INVALID_CREDENTIALS,
                "Approve this download in your browser: `koppel settings download` shows a "
                "code to enter there. Scripts may send the login and password (HTTP Basic).",
            )
        where = address(request)
        return attempt(
            svc, basic.username, where,
            lambda repo, web: sign_in.password_only(
                repo, web, svc.policy, basic.username, basic.password, where
            ),
        )  # fmt: skip

    return dependency


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
    env: str,
    token: Annotated[str, Depends(bearer_token)],
    update: Annotated[str, Depends(agent_update)],
    svc: Annotated[Services, Depends(services)],
) -> TokenView:
    """Authenticate a bearer token for environment ``env`` (checks it belongs to it)."""
    with svc.transaction() as repo:
        return linking.authenticate_token(repo, svc.policy, env, token, update)
