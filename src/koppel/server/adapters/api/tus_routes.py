"""The tus 1.0 endpoint (core, creation, creation-with-upload, checksum, termination,
expiration) of uploads.

Thin: headers in, domain calls (``koppel.server.domain.transfer.uploads``), headers out.
PATCH bodies, and the POST bodies of creation-with-upload, reach the blob store through
the one streaming path (``adapters/http/body_stream``); the whole body is never held in
memory. ``TusHeaders`` adds ``Tus-Resumable`` to every response of the upload routes
(refusals included) and answers 412 to clients of another protocol version.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from koppel.i18n import gettext as _
from koppel.protocol.errors import ErrorBody, ErrorCode
from koppel.protocol.uploads import TUS_CHECKSUMS, TUS_EXTENSIONS, TUS_VERSION
from koppel.protocol.wire import API_PREFIX, SHA256_HEADER
from koppel.server.adapters.http.body_stream import stream_into
from koppel.server.adapters.http.dependencies import (
    Credentials,
    credentials,
    services,
    token_owner,
    tus_resumable,
)
from koppel.server.adapters.http.errors import ERROR_RESPONSES
from koppel.server.adapters.http.params import EnvCode, header_text
from koppel.server.adapters.http.upload_writers import UploadWriters
from koppel.server.adapters.observability.routes import metrics_of
from koppel.server.domain.errors import DomainError
from koppel.server.domain.model import TokenView
from koppel.server.domain.transfer import extensions
from koppel.server.domain.transfer import uploads as domain
from koppel.server.services import Services

router = APIRouter(
    prefix=f"{API_PREFIX}/environments/{{env}}/uploads",
    tags=["uploads"],
    responses=ERROR_RESPONSES,
)
# On every route but OPTIONS, which tus lets clients send without it.
Tus = [Depends(tus_resumable)]
Svc = Annotated[Services, Depends(services)]
Owner = Annotated[TokenView, Depends(token_owner)]
Given = Annotated[Credentials, Depends(credentials)]

OFFSET_STREAM = "application/offset+octet-stream"
# The methods of the upload routes that speak tus (OPTIONS aside): creation on the
# collection, the others on one upload.
_TUS_METHODS = ({"POST"}, {"HEAD", "PATCH", "DELETE"})
_UPLOAD_PATH = re.compile(rf"^{re.escape(API_PREFIX)}/environments/[^/]+/uploads(/[^/]+)?/?$")


def _now() -> datetime:
    return datetime.now(UTC)


def _http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def _capabilities(svc: Services) -> dict[str, str]:
    return {
        "Tus-Resumable": TUS_VERSION,
        "Tus-Version": TUS_VERSION,
        "Tus-Extension": ",".join(TUS_EXTENSIONS),
        "Tus-Max-Size": str(svc.settings.upload_limits().max_bytes),
        "Tus-Checksum-Algorithm": ",".join(TUS_CHECKSUMS),
    }


def _refuse(status: int, message: str, **headers: str) -> JSONResponse:
    body = ErrorBody(code=ErrorCode.VALIDATION_ERROR, message=message)
    return JSONResponse(body.model_dump(mode="json"), status, headers=headers or None)


def _non_negative(value: str | None, name: str) -> int:
    if value is None or not value.strip().isdigit():
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            _("{name} must be a non-negative integer.").format(name=name),
        )
    return int(value)


def parse_metadata(header: str | None) -> dict[str, str]:
    """The ``Upload-Metadata`` pairs (``key base64value``, comma-separated), decoded."""
    result: dict[str, str] = {}
    for pair in (header or "").split(","):
        if not pair.strip():
            continue
        key, _sep, value = pair.strip().partition(" ")
        try:
            result[key] = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise DomainError(
                ErrorCode.VALIDATION_ERROR,
                _("Upload-Metadata {key!r} is not base64-encoded UTF-8.").format(key=key),
            ) from exc
    return result


_writers = UploadWriters()


def _find(svc: Services, owner: TokenView, upload_id: str) -> domain.Upload:
    with svc.transaction() as uow:
        return domain.find(
            uow.uploads,
            svc.blobs,
            upload_id,
            environment_id=owner.environment.id,
            membership_id=owner.membership.id,
            now=_now(),
        )


def _state_headers(upload: domain.Upload) -> dict[str, str]:
    headers = {
        "Upload-Offset": str(upload.offset),
        "Upload-Expires": _http_date(upload.expires_at),
    }
    if upload.sha256:
        # Lets the agent verify the whole file end to end in the same pass it sent it.
        headers[SHA256_HEADER] = upload.sha256
    return headers


@router.options("", include_in_schema=False)
@router.options("/{upload_id}", include_in_schema=False)
def capabilities(svc: Svc) -> Response:
    """The tus capabilities: version, extensions, the size limit, checksum algorithms."""
    return Response(status_code=204, headers=_capabilities(svc))


# The headers as the document states them (tus 1.0): lengths and offsets are decimal
# numbers of bytes, metadata is comma-separated "key base64value" pairs.
_DECIMAL = r"^[0-9]{1,19}$"
_METADATA = r"^[^\s,]+( [A-Za-z0-9+/]*={0,2})?(,[^\s,]+( [A-Za-z0-9+/]*={0,2})?)*$"
UploadLength = Annotated[
    str,
    Header(
        alias="Upload-Length",
        pattern=_DECIMAL,
        description="The file's size in bytes (deferring it is not supported).",
        examples=["11"],
    ),
]
UploadMetadata = Annotated[
    str,
    Header(
        alias="Upload-Metadata",
        pattern=_METADATA,
        description="`filename` (required), `filetype`, `submission`: each `key base64value`.",
        examples=["filename cmVwb3J0LnR4dA==,filetype dGV4dC9wbGFpbg=="],
    ),
]
UploadOffset = Annotated[
    str,
    Header(
        alias="Upload-Offset",
        pattern=_DECIMAL,
        description="Where the body goes: the offset the server has (HEAD).",
        examples=["0"],
    ),
]
_CHECKSUM = r"^(sha1 [A-Za-z0-9+/]{27}=|sha256 [A-Za-z0-9+/]{43}=)$"
UploadChecksum = Annotated[
    str | None,
    Header(
        alias="Upload-Checksum",
        pattern=_CHECKSUM,
        description="`sha1` or `sha256` and the base64 digest of this request's body.",
    ),
    header_text(_CHECKSUM),
]


def _headers(**described: str) -> dict[str, dict[str, object]]:
    return {
        name: {"description": text, "schema": {"type": "string"}}
        for name, text in described.items()
    }


_EXPIRES = "When the upload expires if unfinished (HTTP date)."
_OFFSET = "How many bytes of the upload the server has."


def _creation_credentials(given: Given, svc: Svc, request: Request) -> Credentials:
    """The credentials of a creation, checked in the creation's own transaction; but when
    its headers are malformed (the request will be refused for them), checked here
    first, so that a bad token is told as such before anything about the headers."""
    headers = request.headers
    checksum = headers.get("upload-checksum")
    if not (
        re.match(_DECIMAL, headers.get("upload-length", ""))
        and re.match(_METADATA, headers.get("upload-metadata", ""))
        and (checksum is None or re.match(_CHECKSUM, checksum))
    ):
        with svc.transaction() as uow:
            given.owner(uow, svc)
    return given


CreationCredentials = Annotated[Credentials, Depends(_creation_credentials)]
_CREATION_BODY = (
    f"Optional (tus creation-with-upload): the first bytes of the file, sent as "
    f"{OFFSET_STREAM}; the answer's Upload-Offset says how many the server kept."
)


@router.post(
    "",
    status_code=201,
    dependencies=Tus,
    response_class=Response,
    responses={
        201: {
            "description": "Created: the upload's address is in Location; with a body "
            "(creation-with-upload), Upload-Offset tells how many bytes were kept.",
            "headers": _headers(
                Location="The upload's address.",
                **{"Upload-Expires": _EXPIRES, "Upload-Offset": _OFFSET},
            ),
        },
    },
    openapi_extra={
        "requestBody": {
            "required": False,
            "description": _CREATION_BODY,
            "content": {
                OFFSET_STREAM: {"schema": {"type": "string", "format": "binary"}, "example": "0123"}
            },
        }
    },
)
async def create_upload(
    env: EnvCode,
    request: Request,
    given: CreationCredentials,
    svc: Svc,
    upload_length: UploadLength,
    upload_metadata: UploadMetadata,
    upload_checksum: UploadChecksum = None,
) -> Response:
    """tus creation: an upload of ``Upload-Length`` bytes; ``filename`` in Upload-Metadata
    (its extension must be one the environment accepts: 415 ``extension_not_allowed``).

    tus creation-with-upload: a body sent as ``application/offset+octet-stream`` is the
    file's first bytes (the whole of a small file), appended as a PATCH at offset 0 would.
    One request and two transactions (credentials and creation; then the bytes' record)
    instead of two requests and five."""
    content_type = request.headers.get("content-type", "")
    with_body = content_type.split(";")[0].strip().lower() == OFFSET_STREAM
    content_length = request.headers.get("content-length")
    length = _non_negative(content_length, "Content-Length") if content_length else None
    checksum = domain.parse_checksum(upload_checksum) if with_body else None
    upload, owner = await run_in_threadpool(
        _create, svc, given, request, upload_length, upload_metadata, length if with_body else 0
    )
    location = f"{str(request.url.replace(query='')).rstrip('/')}/{upload.id}"
    headers = {"Location": location, "Upload-Expires": _http_date(upload.expires_at)}
    if with_body:
        # No claim needed: nobody else knows this upload before this answer gives its URL.
        upload = await _receive_first(svc, owner, upload, request, checksum)
        headers.update(_state_headers(upload))
    return Response(status_code=201, headers=headers)


def _create(
    svc: Services,
    given: Credentials,
    request: Request,
    upload_length: str,
    upload_metadata: str,
    body_length: int | None,
) -> tuple[domain.Upload, TokenView]:
    # The credentials are checked in the creation's own transaction: one, not two.
    with svc.transaction() as uow:
        owner = given.owner(uow, svc)
        if "upload-defer-length" in request.headers:
            raise DomainError(
                ErrorCode.VALIDATION_ERROR,
                _("State the length (Upload-Length); deferring it is not supported."),
            )
        length = _non_negative(upload_length, "Upload-Length")
        metadata = parse_metadata(upload_metadata)
        upload = domain.create(
            uow.uploads,
            svc.blobs,
            svc.settings.upload_limits(),
            environment_id=owner.environment.id,
            membership_id=owner.membership.id,
            filename=metadata.get("filename"),
            media_type=metadata.get("filetype") or metadata.get("filetype".upper()),
            length=length,
            now=_now(),
            allowed=extensions.allowlist(uow.extensions, owner.environment),
        )
        if body_length:
            # A body longer than the declared length is refused before the upload exists.
            domain.check_append(upload, 0, body_length)
        return upload, owner


async def _receive_first(
    svc: Services,
    owner: TokenView,
    upload: domain.Upload,
    request: Request,
    checksum: tuple[str, bytes] | None,
) -> domain.Upload:
    """The creation request's body, streamed into the new upload as a PATCH's would be.

    A body cut short leaves the upload resumable at the offset received (tus). A refused
    one (more bytes than declared, a checksum mismatch) removes the upload: the client
    got no Location for it, so nobody could continue it."""
    receiver = domain.ChunkReceiver(svc.blobs, upload, checksum)
    try:
        await stream_into(request.stream(), receiver.feed, stop=lambda: receiver.overflow)
        await run_in_threadpool(receiver.finish)
    except ClientDisconnect:
        receiver.abandon()
    except DomainError:
        await run_in_threadpool(_terminate, svc, owner, upload.id)
        raise
    finally:
        receiver.close()
        metrics_of(request).upload_bytes.inc(receiver.received)
    return await run_in_threadpool(_record, svc, upload)


@router.head(
    "/{upload_id}",
    dependencies=Tus,
    response_class=Response,
    responses={
        200: {
            "description": "The upload's state, in headers only.",
            "headers": _headers(
                **{
                    "Upload-Offset": _OFFSET,
                    "Upload-Length": "The upload's declared size in bytes.",
                    "Upload-Expires": _EXPIRES,
                }
            ),
        }
    },
)
def upload_offset(env: EnvCode, upload_id: str, owner: Owner, svc: Svc) -> Response:
    """tus core: how many bytes of the upload the server has."""
    upload = _find(svc, owner, upload_id)
    headers = _state_headers(upload)
    headers["Upload-Length"] = str(upload.declared_length)
    headers["Cache-Control"] = "no-store"
    return Response(status_code=200, headers=headers)


@router.patch(
    "/{upload_id}",
    status_code=204,
    dependencies=Tus,
    response_class=Response,
    responses={
        204: {
            "description": "Appended.",
            "headers": _headers(**{"Upload-Offset": _OFFSET, "Upload-Expires": _EXPIRES}),
        },
        415: {"model": ErrorBody, "description": f"Not sent as {OFFSET_STREAM}."},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                OFFSET_STREAM: {"schema": {"type": "string", "format": "binary"}, "example": "0123"}
            },
        }
    },
)
async def append_chunk(
    env: EnvCode,
    upload_id: str,
    request: Request,
    owner: Owner,
    svc: Svc,
    upload_offset: UploadOffset,
    upload_checksum: UploadChecksum = None,
) -> Response:
    """tus core: append the body at ``Upload-Offset`` (optionally checked by Upload-Checksum)."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != OFFSET_STREAM:
        return _refuse(
            415, _("Send the bytes with Content-Type: {type}.").format(type=OFFSET_STREAM)
        )
    offset = _non_negative(upload_offset, "Upload-Offset")
    content_length = request.headers.get("content-length")
    length = _non_negative(content_length, "Content-Length") if content_length else None
    checksum = domain.parse_checksum(upload_checksum)
    async with _writers.hold(svc, upload_id):
        upload = await run_in_threadpool(_find, svc, owner, upload_id)
        domain.check_append(upload, offset, length)
        receiver = domain.ChunkReceiver(svc.blobs, upload, checksum)
        refusal: DomainError | None = None
        try:
            await stream_into(request.stream(), receiver.feed, stop=lambda: receiver.overflow)
            await run_in_threadpool(receiver.finish)
        except ClientDisconnect:
            receiver.abandon()
        except DomainError as exc:
            refusal = exc
        finally:
            receiver.close()
            metrics_of(request).upload_bytes.inc(receiver.received)
        upload = await run_in_threadpool(_record, svc, upload)
    if refusal is not None:
        raise refusal
    return Response(status_code=204, headers=_state_headers(upload))


def _record(svc: Services, upload: domain.Upload) -> domain.Upload:
    with svc.transaction() as uow:
        return domain.record_progress(uow.uploads, svc.blobs, upload, _now())


@router.delete("/{upload_id}", status_code=204, dependencies=Tus, response_class=Response)
async def terminate_upload(env: EnvCode, upload_id: str, owner: Owner, svc: Svc) -> Response:
    """tus termination: delete the upload and its bytes."""
    async with _writers.hold(svc, upload_id):
        await run_in_threadpool(_terminate, svc, owner, upload_id)
    return Response(status_code=204)


def _terminate(svc: Services, owner: TokenView, upload_id: str) -> None:
    with svc.transaction() as uow:
        uploads = uow.uploads
        upload = domain.find(
            uploads,
            svc.blobs,
            upload_id,
            environment_id=owner.environment.id,
            membership_id=owner.membership.id,
            now=_now(),
        )
        domain.terminate(uploads, svc.blobs, upload)


class TusHeaders:
    """ASGI middleware for the upload routes: ``Tus-Resumable`` on every response, and 412
    (with ``Tus-Version``) for tus requests of another or no protocol version."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        matched = _UPLOAD_PATH.match(scope["path"]) if scope["type"] == "http" else None
        if matched is None:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        # OPTIONS needs no version (tus), other methods are answered 405 by the router, and
        # a request without credentials is answered 401 by its route first.
        if (
            scope["method"] in _TUS_METHODS[matched.group(1) is not None]
            and "authorization" in headers
            and headers.get("tus-resumable") != TUS_VERSION
        ):
            response = _refuse(
                412,
                _("This server speaks tus {version}; send Tus-Resumable: {version}.").format(
                    version=TUS_VERSION
                ),
                **{"Tus-Version": TUS_VERSION, "Tus-Resumable": TUS_VERSION},
            )
            await response(scope, receive, send)
            return

        async def send_with_version(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Tus-Resumable"] = TUS_VERSION
            await send(message)

        await self.app(scope, receive, send_with_version)
