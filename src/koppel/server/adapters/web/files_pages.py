"""My files of an environment: the user's output files (pushed, or made by analyses),
their downloads, and the form that requests a new analysis. While a file is pending the
page reloads itself (``<meta http-equiv="refresh">``: no script) until it is ready or
failed.

Thin: the rules are the agent API's (``domain/my_files.py``, ``domain/analyses.py``):
the function ``General/Output/My files`` is needed, and only the user's own files exist.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request, Response

from koppel.i18n import gettext as _
from koppel.protocol.errors import ErrorCode
from koppel.server.adapters.http.downloads import (
    output_file_download,
)
from koppel.server.adapters.http.params import RowId
from koppel.server.adapters.web import context as ctx
from koppel.server.adapters.web.frame import speaking_to
from koppel.server.adapters.web.pages import redirect
from koppel.server.adapters.web.templating import render
from koppel.server.domain import my_files as ob
from koppel.server.domain.dossier import items as dossier
from koppel.server.domain.errors import DomainError
from koppel.server.domain.jobs import analyses
from koppel.server.domain.portal.environments import PortalEnvironment

router = APIRouter()

# Seconds between reloads of the page while a file is pending.
REFRESH_SECONDS = 2
_NOTICE_LIMIT = 300


def _files_path(user: ctx.PortalUser, env: str) -> str:
    return user.path("environments", env, "files")


def _missing_function(shown: PortalEnvironment) -> DomainError | None:
    try:
        ob.require_my_files(set(shown.functions), shown.environment.code)
    except DomainError as refusal:
        return refusal
    return None


@router.get("/portal/{code}/environments/{env}/files", name="my_files")
def my_files(request: Request, user: ctx.SignedIn, env: str) -> Response:
    """The user's files here, newest first; pending ones make the page reload itself."""
    shown = user.environment(env)
    missing = _missing_function(shown)
    if missing is not None:
        # Explained on the page itself, with the step that grants the function.
        return render(
            request, "files.html", {"user": user, "shown": shown, "missing": missing}, 403
        )
    with user.transaction() as uow:
        files = uow.my_files.of_memberships([shown.membership.id])
        destinations = dossier.destinations(uow.dossier, shown.environment)
    pending = [f for f in files if f.state == ob.PENDING]
    notice = request.query_params.get("done", "").strip()[:_NOTICE_LIMIT] or None
    response = render(
        request,
        "files.html",
        {
            "user": user,
            "shown": shown,
            "files": files,
            "pending": pending,
            "destinations": destinations,
            "refresh": REFRESH_SECONDS if pending else None,
            "notice": notice,
        },
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/portal/{code}/environments/{env}/files/{file_id}/content", name="my_file_content")
def my_file_content(request: Request, user: ctx.SignedIn, env: str, file_id: RowId) -> Response:
    """A ready file of the user's, streamed (ETag, Range and its sha256 as the API sends)."""
    shown = user.environment(env)
    ob.require_my_files(set(shown.functions), shown.environment.code)
    with user.transaction() as uow:
        file = ob.owned_file(uow.my_files, file_id, shown.membership.id)
    if file.state != ob.READY or file.blob_key is None or file.size is None:
        raise DomainError(
            ErrorCode.NOT_FOUND,
            _("File {id} failed; its content is not available ({reason}).").format(
                id=file_id, reason=_(file.error)
            )
            if file.error
            else _("File {id} is being prepared; its content is not available yet.").format(
                id=file_id
            ),
        )
    return output_file_download(user.svc.blobs, file, request.headers)


@router.post("/portal/{code}/environments/{env}/analyses", name="request_analysis")
def request_analysis(
    request: Request,
    user: ctx.CsrfChecked,
    env: str,
    kind: Annotated[str, Form()] = analyses.DOSSIER_OVERVIEW,
    destination: Annotated[str, Form()] = "",
) -> Response:
    """Queue an analysis (the dossier overview of the environment or of one destination);
    back on My files, its file is pending until the job has made it."""
    shown = user.environment(env)
    ob.require_my_files(set(shown.functions), shown.environment.code)
    environment = shown.environment
    # The file's name, its workbook's words and times: the user's language and zone.
    with speaking_to(request, {"user": user}), user.transaction() as uow:
        file = analyses.request(
            uow.my_files,
            uow.jobs,
            uow.dossier,
            user.svc.policy.clock(),
            environment.id,
            environment.code,
            shown.membership.id,
            kind,
            destination.strip() or None,
        )
    user.svc.publisher.published()  # wake event streams and job workers now
    done = _("Requested {name}; it appears below when it is ready.").format(name=file.name)
    return redirect(f"{_files_path(user, environment.code)}?{urlencode({'done': done})}")
