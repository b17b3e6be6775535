"""Request-scoped helpers: the services, credentials, the agent's update, tokens."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import (
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
)

from koppel.i18n import gettext as _
from koppel.protocol.errors import ErrorCode
from koppel.protocol.updates import AGENT_UPDATE, UPDATE_HEADER, Update
from koppel.server.adapters.http.params import EnvCode
from koppel.server.adapters.http.password_attempts import attempt
from koppel.server.domain.errors import DomainError
from koppel.server.domain.links import linking
from koppel.server.domain.model import Account, TokenView
from koppel.server.domain.portal import device_approval, sign_in
from koppel.server.domain.unit_of_work import UnitOfWork
from koppel.server.services import Services

UPDATE_PATTERN = r"^[0-9]{4}\.[0-9]{1,2}$"
TUS_RESUMABLE = "Tus-Resumable"

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
        env: EnvCode,
        request: Request,
        svc: Annotated[Services, Depends(services)],
        basic: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
        approval: Annotated[HTTPAuthorizationCredentials | None, Depends(_approval)],
    ) -> Account:
        if approval is not None and device_approval.is_access_token(approval.credentials):
            with svc.transaction() as uow:
                return device_approval.access(
                    uow.core, uow.device_grants, svc.policy,
                    approval.credentials, action, env,
                )  # fmt: skip
        if basic is None:
            raise DomainError(
                ErrorCode.INVALID_CREDENTIALS,
                _(
                    "Approve this download in your browser: `koppel settings download` shows a "
                    "code to enter there. Scripts may send the login and password (HTTP Basic)."
                ),
            )
        where = address(request)
        return attempt(
            svc, basic.username, where,
            lambda uow: sign_in.password_only(
                uow.core, uow.portal, svc.policy, basic.username, basic.password, where
            ),
        )  # fmt: skip

    return dependency


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
            _(
                "This request needs the workstation's user token (Authorization: Bearer). Link "
                "the environment first with `koppel link FILE`."
            ),
        )
    return given.credentials


@dataclass(frozen=True)
class Credentials:
    """What a request presents (environment, bearer token, agent update), not yet checked:
    for a route that authenticates in the same transaction as its own work."""

    env: str
    token: str
    update: str

    def owner(self, uow: UnitOfWork, svc: Services) -> TokenView:
        """The token's owner in ``env``, or the refusal (:func:`token_owner`'s rules)."""
        return linking.authenticate_token(uow.core, svc.policy, self.env, self.token, self.update)


def credentials(
    env: EnvCode,
    token: Annotated[str, Depends(bearer_token)],
    update: Annotated[str, Depends(agent_update)],
) -> Credentials:
    """The presented token and update (a missing one refused at once), checked later in
    the route's own transaction (one transaction, not two, for a small upload)."""
    return Credentials(env, token, update)


def token_owner(
    given: Annotated[Credentials, Depends(credentials)],
    svc: Annotated[Services, Depends(services)],
) -> TokenView:
    """Authenticate a bearer token for environment ``env`` (checks it belongs to it)."""
    with svc.transaction() as uow:
        return given.owner(uow, svc)


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
