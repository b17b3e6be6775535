"""The home page: the environments the signed-in user belongs to on this portal."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from koppel.server.adapters.web import context as ctx
from koppel.server.adapters.web.templating import render

router = APIRouter()


@router.get("/portal/{code}", include_in_schema=False)
def without_slash(code: str) -> Response:
    """``/portal/CODE`` (the recorded main site) leads to the home page."""
    return RedirectResponse(ctx.portal_path(code.upper()), status_code=307)


@router.get("/portal/{code}/", name="home")
def home(request: Request, user: ctx.SignedIn) -> Response:
    """Each environment with its update and whether the Communication Center is ready."""
    return render(request, "home.html", {"user": user})
