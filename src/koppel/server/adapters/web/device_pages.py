"""'My devices': the signed-in user's own tokens on this portal, grouped by workstation,
with a button to revoke one token or every token of a workstation, and "this device is
lost": a confirmation page, then its links end in every environment of the user.

Thin: what a user sees and may revoke is decided by ``domain/devices.py``.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request, Response

from koppel.server.adapters.web import context as ctx
from koppel.server.adapters.web.pages import redirect
from koppel.server.adapters.web.templating import render
from koppel.server.domain.portal import devices

router = APIRouter()

# The notice comes back through the query string: shown as text, and kept short.
_NOTICE_LIMIT = 300


def _after(user: ctx.PortalUser, message: str) -> Response:
    return redirect(f"{user.path('devices')}?{urlencode({'done': message[:_NOTICE_LIMIT]})}")


@router.get("/portal/{code}/devices", name="devices")
def my_devices(request: Request, user: ctx.SignedIn) -> Response:
    """The user's workstations and their tokens in this portal's environments."""
    with user.transaction() as uow:
        found = devices.devices_of(uow.core, user.svc.policy, user.portal, user.account)
    notice = request.query_params.get("done", "").strip()[:_NOTICE_LIMIT] or None
    return render(
        request,
        "devices.html",
        {
            "user": user,
            "devices": found,
            "notice": notice,
            "recent_days": devices.RECENTLY_ENDED.days,
        },
    )


@router.post("/portal/{code}/devices/{token_id}/revoke", name="revoke_device_token")
def revoke_token(user: ctx.CsrfChecked, token_id: str) -> Response:
    """Revoke one of the user's own tokens; that workstation loses access at once."""
    with user.transaction() as uow:
        done = devices.revoke_token(
            uow.core, uow.events, user.svc.policy, user.portal, user.account, token_id
        )
    return _after(user, done.message)


@router.post("/portal/{code}/devices/revoke-workstation", name="revoke_device")
def revoke_workstation(user: ctx.CsrfChecked, workstation_id: Annotated[str, Form()]) -> Response:
    """Revoke every token of one of the user's workstations on this portal."""
    with user.transaction() as uow:
        done = devices.revoke_workstation(
            uow.core,
            uow.events,
            user.svc.policy,
            user.portal,
            user.account,
            workstation_id,
        )
    return _after(user, done.message)


@router.get("/portal/{code}/devices/lost", name="device_lost")
def lost_device(request: Request, user: ctx.SignedIn, workstation: str = "") -> Response:
    """ "This device is lost": what it will revoke (its links in every environment of the
    user, also other portals'), with the button that does it."""
    with user.transaction() as uow:
        found = devices.lost_device(
            uow.core, user.svc.policy, user.portal, user.account, workstation
        )
    return render(request, "device_lost.html", {"user": user, "device": found})


@router.post("/portal/{code}/devices/lost")
def revoke_lost_device(user: ctx.CsrfChecked, workstation_id: Annotated[str, Form()]) -> Response:
    """Revoke the device's tokens in every environment of the user, once confirmed."""
    with user.transaction() as uow:
        done = devices.revoke_lost_device(
            uow.core,
            uow.events,
            user.svc.policy,
            user.portal,
            user.account,
            workstation_id,
        )
    return _after(user, done.message)
