"""The Communication Center page of an environment and its downloads: the agent
("Download installation"), the settings file ("Download settings") and, on a firm's
portal, the bundle of every client's settings.

Thin: who may download what is decided by ``domain/enrollment.py`` (the same rules as the
agent API's "Save settings"/"Save installation"); ``PortalEnvironment`` says beforehand
why a button cannot be offered, so the page explains instead of showing it, and the
bundle's plan (``domain/bundle_plan.py``) lists every client the bundle leaves out.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, JSONResponse

from koppel.server.adapters.http.enrollment_downloads import (
    bundle_download,
    installation_download,
    settings_download,
)
from koppel.server.adapters.web import context as ctx
from koppel.server.adapters.web.templating import render
from koppel.server.domain.links import enrollment
from koppel.server.domain.model import Kind

router = APIRouter()


@router.get("/portal/{code}/environments/{env}", name="communication_center")
def communication_center(request: Request, user: ctx.SignedIn, env: str) -> Response:
    """The environment with its update, and the buttons to install and link the agent
    (each replaced by what is missing when it cannot be offered)."""
    shown = user.environment(env)
    offer_bundle = shown.environment.id == user.portal.id and user.portal.kind is Kind.FIRM
    plan = None
    if offer_bundle:
        # The same plan the bundle download follows, so the page lists what the file holds.
        with user.transaction() as uow:
            plan = enrollment.bundle_plan(uow.core, user.svc.policy, user.account, user.portal.code)
    # The agent is the same for every environment of one update: point to where it is offered.
    elsewhere = next(
        (
            s
            for s in user.environments
            if not s.installation_blockers and s.environment.update == shown.environment.update
        ),
        None,
    )
    return render(
        request,
        "communication.html",
        {
            "user": user,
            "shown": shown,
            "offer_bundle": offer_bundle,
            "bundled": [client for client, _member in plan.included] if plan else [],
            "left_out": plan.skipped if plan else [],
            "elsewhere": elsewhere,
            "enrollment_minutes": int(user.svc.policy.enrollment_ttl.total_seconds() // 60),
        },
    )


@router.get("/portal/{code}/environments/{env}/installation", name="download_installation")
def download_installation(user: ctx.SignedIn, env: str) -> FileResponse:
    """ "Save installation": the agent wheel of the environment's update."""
    shown = user.environment(env)
    with user.transaction() as uow:
        environment = enrollment.installation_for(uow.core, user.account, shown.environment.code)
    return installation_download(user.svc.packages, environment)


@router.get("/portal/{code}/environments/{env}/settings", name="download_settings")
def download_settings(user: ctx.SignedIn, env: str) -> JSONResponse:
    """ "Save settings": the signed settings file, with a single-use enrollment code."""
    shown = user.environment(env)
    with user.transaction() as uow:
        document = enrollment.settings_for(
            uow.core, user.svc.policy, user.account, shown.environment.code
        )
    return settings_download(document)


@router.get("/portal/{code}/bundle", name="download_bundle")
def download_bundle(user: ctx.SignedIn) -> JSONResponse:
    """Settings for every client environment of this firm where the user may save them;
    the file lists the clients it skipped and why."""
    with user.transaction() as uow:
        bundle = enrollment.bundle_for(uow.core, user.svc.policy, user.account, user.portal.code)
    return bundle_download(bundle)
