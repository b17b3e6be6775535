"""The two endpoints of the device authorization grant (RFC 8628): the agent asks for an
approval, then polls for its access token. Form-encoded requests and OAuth 2.0 JSON
answers, including the OAuth error format, as the RFCs prescribe (so any OAuth client
library can talk to them); the user's side is the device page of the portal
(``web/device_approval_pages.py``)."""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse

from koppel.i18n import gettext as _
from koppel.i18n import ngettext
from koppel.protocol.device import (
    AUTHORIZE_PATH,
    CLIENT_ID,
    GRANT_TYPE,
    SCOPE_PATTERN,
    TOKEN_PATH,
    VERIFICATION_PATH,
    DeviceAuthorization,
    DeviceToken,
    OAuthError,
)
from koppel.protocol.errors import ErrorCode
from koppel.server.adapters.http.dependencies import address, services
from koppel.server.adapters.http.oauth_errors import NO_STORE, oauth_error
from koppel.server.domain.errors import DomainError
from koppel.server.domain.portal import device_approval
from koppel.server.services import Services

router = APIRouter(tags=["device authorization"])
Svc = Annotated[Services, Depends(services)]
_OAUTH_ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": OAuthError, "description": "An OAuth 2.0 error; see `error`."},
    401: {"model": OAuthError, "description": "Unknown client (invalid_client)."},
    429: {"model": OAuthError, "description": "Too many approvals started (slow_down)."},
}


ClientId = Annotated[str, Form(pattern=f"^{CLIENT_ID}$", description="Always koppel-agent.")]


@router.post(
    AUTHORIZE_PATH,
    response_model=DeviceAuthorization,
    responses=_OAUTH_ERRORS,
)
def authorize(
    request: Request,
    svc: Svc,
    client_id: ClientId,
    scope: Annotated[
        str,
        Form(
            pattern=SCOPE_PATTERN,
            description="What to approve: settings:CODE, bundle:CODE and/or "
            "installation:CODE, one space apart.",
            examples=["settings:F10001"],
        ),
    ],
    workstation: Annotated[
        str, Form(max_length=200, description="The name people know the workstation by.")
    ] = "",
) -> JSONResponse:
    """Start an approval: a device code for the agent, a user code and the page where the
    user enters it (RFC 8628 section 3.1). ``scope``: ``settings:CODE``,
    ``bundle:CODE`` and/or ``installation:CODE``."""
    device_code = secrets.token_urlsafe(32)
    user_code = device_approval.new_user_code()
    try:
        with svc.transaction() as uow:
            grant = device_approval.start(
                uow.device_grants, svc.policy, device_code=device_code,
                user_code=user_code, scope=scope, client_id=client_id,
                workstation=workstation, address=address(request),
            )  # fmt: skip
    except DomainError as exc:
        if exc.code is ErrorCode.TOO_MANY_ATTEMPTS:
            return oauth_error(429, "slow_down", exc.message)
        return oauth_error(400, "invalid_scope", exc.message)
    page = f"{svc.policy.public_url.rstrip('/')}{VERIFICATION_PATH}"
    answer = DeviceAuthorization(
        device_code=device_code,
        user_code=user_code,
        verification_uri=page,
        verification_uri_complete=f"{page}?user_code={quote(user_code)}",
        expires_in=int((grant.expires_at - grant.created_at).total_seconds()),
        interval=grant.interval,
    )
    return JSONResponse(answer.model_dump(), headers=NO_STORE)


@router.post(TOKEN_PATH, response_model=DeviceToken, responses=_OAUTH_ERRORS)
def token(
    svc: Svc,
    grant_type: Annotated[str, Form(pattern=f"^{GRANT_TYPE}$")],
    device_code: Annotated[str, Form(min_length=1, max_length=200)],
    client_id: ClientId,
) -> JSONResponse:
    """Poll for the access token of an approval (RFC 8628 section 3.4): pending, slow
    down, denied, expired, or the token, which works once the user approved."""
    with svc.transaction() as uow:
        store = uow.device_grants
        grant = device_approval.by_device_code(store, device_code)
        if grant is None or grant.client_id != client_id:
            return oauth_error(
                400, "invalid_grant", _("This device code is unknown or was already used.")
            )
        if grant.expires_at <= svc.policy.clock():
            return oauth_error(
                400, "expired_token", _("The approval was not given in time; start again.")
            )
        if grant.state == "denied":
            return oauth_error(400, "access_denied", device_approval.denial_text(grant.denial))
        if grant.state == "pending":
            if device_approval.too_early(store, svc.policy, grant):
                every = ngettext(
                    "Poll every {count} second.", "Poll every {count} seconds.", grant.interval
                ).format(count=grant.interval)
                return oauth_error(400, "slow_down", every)
            return oauth_error(
                400,
                "authorization_pending",
                _("Waiting for the user to approve in the browser."),
            )
        access = device_approval.issue_access(store, svc.policy, grant)
    answer = DeviceToken(
        access_token=access,
        token_type="Bearer",
        expires_in=int(device_approval.ACCESS_LIFETIME.total_seconds()),
        scope=grant.scope,
    )
    return JSONResponse(answer.model_dump(), headers=NO_STORE)
