"""Routes of My files: listing, content (Range, ETag), delivery, analyses, the bulk
"pending" call of ``koppel watch`` and the integration push."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from koppel.i18n import gettext as _
from koppel.protocol.errors import ErrorCode
from koppel.protocol.files import (
    FILENAME_HEADER,
    AnalysisAccepted,
    AnalysisRequest,
    OutputFileList,
    OutputFileOut,
    PendingFiles,
    PendingFilesRequest,
    PendingFilesResponse,
)
from koppel.protocol.sizes import format_size_exact
from koppel.protocol.wire import API_PREFIX
from koppel.server.adapters.http.body_stream import stream_into
from koppel.server.adapters.http.dependencies import (
    agent_update,
    services,
    token_owner,
)
from koppel.server.adapters.http.downloads import DOWNLOAD_RESPONSES, output_file_download
from koppel.server.adapters.http.errors import ERROR_RESPONSES
from koppel.server.adapters.http.multipart_file import read_file_form
from koppel.server.adapters.http.params import EnvCode, Login, RowId, header_text
from koppel.server.domain import integrations
from koppel.server.domain import my_files as ob
from koppel.server.domain.errors import DomainError
from koppel.server.domain.jobs import analyses
from koppel.server.domain.links import linking, workstation_tokens
from koppel.server.domain.model import TokenView
from koppel.server.domain.transfer import extensions
from koppel.server.domain.transfer.incoming import IncomingFile
from koppel.server.services import Services

router = APIRouter(prefix=API_PREFIX, responses=ERROR_RESPONSES, tags=["files"])
Svc = Annotated[Services, Depends(services)]
Owner = Annotated[TokenView, Depends(token_owner)]

_api_key = HTTPBearer(
    scheme_name="IntegrationKey",
    auto_error=False,
    description="An integration's API key for one environment "
    "(koppel-admin integrations create ENV NAME).",
)


def _out(file: ob.OutputFile, environment: str, delivered: bool) -> OutputFileOut:
    return OutputFileOut(
        id=file.id,
        environment=environment,
        name=file.name,
        media_type=file.media_type,
        size=file.size,
        sha256=file.sha256,
        state=file.state,
        error=_(file.error) if file.error else None,
        source=file.source,
        created=file.created_at,
        ready_at=file.ready_at,
        delivered=delivered,
    )


def _my_file(svc: Services, owner: TokenView, file_id: int) -> ob.OutputFile:
    with svc.transaction() as uow:
        ob.require_my_files(linking.functions_of(uow.core, owner), owner.environment.code)
        return ob.owned_file(uow.my_files, file_id, owner.membership.id)


@router.get("/environments/{env}/files")
def list_files(owner: Owner, svc: Svc) -> OutputFileList:
    """My files of the token's user, newest first; ``delivered`` is per this workstation."""
    with svc.transaction() as uow:
        ob.require_my_files(linking.functions_of(uow.core, owner), owner.environment.code)
        my_files = uow.my_files
        files = my_files.of_memberships([owner.membership.id])
        done = my_files.delivered([f.id for f in files], owner.token.workstation_id)
    return OutputFileList(files=[_out(f, owner.environment.code, f.id in done) for f in files])


@router.get(
    "/environments/{env}/files/{file_id}/content",
    response_class=StreamingResponse,
    responses=DOWNLOAD_RESPONSES,
)
def file_content(
    file_id: RowId,
    owner: Owner,
    svc: Svc,
    request: Request,
) -> Response:
    """The content of a ready file, streamed; ``Koppel-Sha256``, ETag and Range."""
    file = _my_file(svc, owner, file_id)
    if file.state != ob.READY or file.blob_key is None or file.size is None:
        raise DomainError(
            ErrorCode.NOT_FOUND,
            _("File {file_id} is {state}; its content is not available ({error}).").format(
                file_id=file_id, state=file.state, error=_(file.error)
            )
            if file.error
            else _("File {file_id} is {state}; its content is not available yet.").format(
                file_id=file_id, state=file.state
            ),
        )
    return output_file_download(svc.blobs, file, request.headers)


@router.post("/environments/{env}/files/{file_id}/delivered", status_code=204)
def file_delivered(file_id: RowId, owner: Owner, svc: Svc) -> Response:
    """Record that the token's workstation has the file (idempotent)."""
    with svc.transaction() as uow:
        ob.require_my_files(linking.functions_of(uow.core, owner), owner.environment.code)
        my_files = uow.my_files
        file = ob.owned_file(my_files, file_id, owner.membership.id)
        ob.mark_delivered(my_files, file, owner.token.workstation_id, svc.policy.clock())
    return Response(status_code=204)


@router.post("/environments/{env}/analyses", status_code=202, tags=["analyses"])
def request_analysis(body: AnalysisRequest, owner: Owner, svc: Svc) -> AnalysisAccepted:
    """Queue an analysis; its file is pending in My files until it is ready (or failed)."""
    with svc.transaction() as uow:
        ob.require_my_files(linking.functions_of(uow.core, owner), owner.environment.code)
        file = analyses.request(
            uow.my_files,
            uow.jobs,
            uow.dossier,
            svc.policy.clock(),
            owner.environment.id,
            owner.environment.code,
            owner.membership.id,
            body.kind,
            body.destination,
        )
    svc.publisher.published()  # wake event streams and job workers now
    return AnalysisAccepted(file_id=file.id, state=file.state)


@router.post("/files/pending")
def pending_files(
    body: PendingFilesRequest,
    svc: Svc,
    update: Annotated[str, Depends(agent_update)],
) -> PendingFilesResponse:
    """Ready files not yet delivered to the workstation, for many environments in one
    request (tokens checked in bulk like ``/status``). Tokens of another workstation are
    refused."""
    workstation = body.workstation_id
    with svc.transaction() as uow:
        checks = workstation_tokens.check(
            uow.core, svc.policy, update, body.environments, workstation
        )
        my_files = uow.my_files
        valid = {c.environment: c.view for c in checks if c.view is not None}
        result = [
            PendingFiles(
                environment=c.environment,
                state=c.state,
                message="" if c.view is not None else c.message or "",
            )
            for c in checks
        ]
        by_membership = {v.membership.id: code for code, v in valid.items()}
        files = ob.pending_delivery(my_files, list(by_membership), workstation)
    grouped: dict[str, list[OutputFileOut]] = {}
    for file in files:
        code = by_membership[file.membership_id]
        grouped.setdefault(code, []).append(_out(file, code, False))
    for entry in result:
        entry.files = grouped.get(entry.environment, [])
    return PendingFilesResponse(environments=result)


def _upload_name(request: Request, header_name: str | None) -> str:
    disposition = request.headers.get("content-disposition", "")
    match = re.search(r'filename="?([^";]+)"?', disposition)
    name = header_name or (match.group(1) if match else None)
    if not name:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            _(
                "Name the file: send it as multipart form field 'file', or raw with the "
                "{filename_header} header."
            ).format(filename_header=FILENAME_HEADER),
        )
    return ob.check_name(name)


@router.post(
    "/environments/{env}/users/{login}/files",
    status_code=201,
    tags=["integration"],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {
                    "schema": {"type": "string", "format": "binary"},
                    "example": "Quarterly figures",
                },
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                },
            },
        }
    },
)
async def push_file(
    env: EnvCode,
    login: Login,
    request: Request,
    key: Annotated[HTTPAuthorizationCredentials | None, Depends(_api_key)],
    svc: Svc,
    filename: Annotated[
        str | None,
        Header(
            alias=FILENAME_HEADER,
            description="The file's name, for a raw body (multipart names it in its part).",
            examples=["Quarterly figures.txt"],
        ),
        header_text(),
    ] = None,
) -> OutputFileOut:
    """Put a file into a user's My files: an integration with its API key for the
    environment (``Authorization: Bearer kpli_…``), for any user of that environment; the
    audit log names the integration. Multipart (field ``file``) or a raw body with the
    ``Koppel-Filename`` header; streamed into the blob store."""

    def authorize() -> tuple[int, str, int, integrations.IntegrationKey]:
        with svc.transaction() as uow:
            found, environment = integrations.authenticate(
                uow.core, uow.integration_keys, svc.policy,
                key.credentials if key else None, env,
            )  # fmt: skip
            target = integrations.recipient(uow.core, environment, login)
        return environment.id, environment.code, target.id, found

    env_id, env_code, membership_id, pusher = await run_in_threadpool(authorize)
    limit = svc.settings.upload_limits().max_bytes
    incoming = IncomingFile(svc.blobs, limit, lambda: _too_large(limit), "push")
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith("multipart/form-data"):
            found = await read_file_form(
                request, incoming, _accept_push_part, lambda _: _too_large(limit), limit
            )
            if not found.has_file:
                raise DomainError(
                    ErrorCode.VALIDATION_ERROR, _("Send the file in the field 'file'.")
                )
            name = ob.check_name(filename or found.filename)
            media_type = found.media_type or "application/octet-stream"
        else:
            name = _upload_name(request, filename)
            media_type = content_type or "application/octet-stream"
            await stream_into(request.stream(), incoming.feed)
        if incoming.size == 0:
            raise DomainError(ErrorCode.EMPTY_FILE, _("The file is empty; nothing was published."))
        blob_key = await run_in_threadpool(incoming.commit, "outbox")
    finally:
        await run_in_threadpool(incoming.discard)
    size, sha256 = incoming.size, incoming.sha256

    def publish() -> ob.OutputFile:
        with svc.transaction() as uow:
            published = ob.publish(
                uow.my_files,
                uow.events,
                svc.policy.clock(),
                env_id,
                membership_id,
                name=name,
                media_type=media_type.split(";")[0].strip(),
                size=size,
                sha256=sha256,
                blob_key=blob_key,
                allowed=extensions.allowlist_of(uow.extensions, env_id, env_code),
            )
            environment = uow.core.environment_by_id(env_id)
            assert environment is not None
            integrations.record_delivery(
                uow.core, svc.policy, pusher, environment, login, name, published.id
            )
            return published

    try:
        file = await run_in_threadpool(publish)
    except Exception:
        await run_in_threadpool(svc.blobs.delete, blob_key)
        raise
    svc.publisher.published()  # wake event streams and job workers now
    return _out(file, env_code, False)


def _accept_push_part(field: str, name: str, _fields: dict[str, str]) -> None:
    """The push's form carries its file in the field ``file``."""
    if field != "file":
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Send the file in the field 'file'."))


def _too_large(limit: int) -> DomainError:
    return DomainError(
        ErrorCode.TOO_LARGE,
        _(
            "The file is larger than this server accepts (at most {limit} per file); nothing "
            "was kept."
        ).format(limit=format_size_exact(limit)),
    )
