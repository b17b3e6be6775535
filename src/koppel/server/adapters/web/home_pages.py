"""The home page: the environments the signed-in user belongs to on this portal, and the
workstation install in an employee's words (the command line behind "Technical details")."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from koppel.i18n import N_
from koppel.protocol.updates import Update
from koppel.server.adapters.web import context as ctx
from koppel.server.adapters.web.templating import render
from koppel.server.domain.links.installation import AgentWheel
from koppel.server.domain.portal.environments import PortalEnvironment

router = APIRouter()


@dataclass(frozen=True)
class System:
    """An operating system the agent is offered for, with its download button's words."""

    key: str
    label: str  # marked with N_, translated in the template


SYSTEMS = (
    System("windows", N_("Download Koppel for Windows")),
    System("macos", N_("Download Koppel for macOS")),
    System("linux", N_("Download Koppel for Linux")),
)


def system_of(user_agent: str) -> str | None:
    """The operating system a browser's ``User-Agent`` names (phones count as none)."""
    agent = user_agent.lower()
    if "windows" in agent:
        return "windows"
    if "iphone" in agent or "ipad" in agent or "android" in agent:
        return None
    if "mac os" in agent or "macintosh" in agent:
        return "macos"
    if "linux" in agent or "x11" in agent:
        return "linux"
    return None


def systems_for(user_agent: str) -> list[System]:
    """The download buttons, the browser's own system first."""
    mine = system_of(user_agent)
    return sorted(SYSTEMS, key=lambda system: system.key != mine)


def _installable(user: ctx.PortalUser) -> PortalEnvironment | None:
    # The agent is the same for every environment of one update: the first offered.
    return next((s for s in user.environments if not s.installation_blockers), None)


@router.get("/portal/{code}", include_in_schema=False)
def without_slash(code: str) -> Response:
    """``/portal/CODE`` (the recorded main site) leads to the home page."""
    return RedirectResponse(ctx.portal_path(code.upper()), status_code=307)


@router.get("/portal/{code}/", name="home")
def home(request: Request, user: ctx.SignedIn) -> Response:
    """Each environment with its update and whether the Communication Center is ready,
    and the buttons to download the agent (the visitor's system first)."""
    offered = _installable(user)
    release: AgentWheel | None = None
    if offered is not None:
        release = user.svc.packages.release_of(Update.parse(offered.environment.update))
    return render(
        request,
        "home.html",
        {
            "user": user,
            "offered": offered,
            "release": release,
            "systems": systems_for(request.headers.get("user-agent", "")),
        },
    )
