"""Routes of the dossier: destinations, item types, items, attachment downloads and new
versions (docs/agent-api.md). Thin: the rules are in ``domain/dossier.py``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from koppel.protocol.dossier import (
    AttachmentOut,
    CreateItemRequest,
    DestinationOut,
    ItemList,
    ItemOut,
    ItemTypeOut,
    NewVersionRequest,
    VersionOut,
)
from koppel.protocol.filenames import MAX_NAME_BYTES
from koppel.protocol.wire import API_PREFIX
from koppel.server.adapters.http.dependencies import services, token_owner
from koppel.server.adapters.http.downloads import DOWNLOAD_RESPONSES, version_download
from koppel.server.adapters.http.errors import ERROR_RESPONSES
from koppel.server.adapters.http.params import Moment, Offset, RowId, VersionNumber
from koppel.server.domain.dossier import editing as dossier_editing
from koppel.server.domain.dossier import items as dossier
from koppel.server.domain.dossier.model import Item, Version
from koppel.server.domain.errors import DomainError, StoreConflict
from koppel.server.domain.model import TokenView
from koppel.server.services import Services

router = APIRouter(
    prefix=API_PREFIX + "/environments/{env}", responses=ERROR_RESPONSES, tags=["dossier"]
)
Svc = Annotated[Services, Depends(services)]
Owner = Annotated[TokenView, Depends(token_owner)]


def version_out(version: Version) -> VersionOut:
    """The API form of a version."""
    return VersionOut(
        number=version.number,
        name=version.name,
        media_type=version.media_type,
        size=version.size,
        sha256=version.sha256,
        etag=version.etag,
        created=version.created,
        author=version.author,
        workstation=version.workstation_name,
        conflict_of=version.conflict_of,
    )


def item_out(item: Item) -> ItemOut:
    """The API form of an item."""
    return ItemOut(
        id=item.id,
        environment=item.environment,
        subject=item.subject,
        type=item.item_type.name,
        destination=DestinationOut(
            code=item.destination.code,
            name=item.destination.name,
            kind=item.destination.kind,
        ),
        author=item.author,
        source_workstation=item.workstation_name,
        created=item.created,
        date=item.document_date,
        submission_id=item.submission_id,
        attachments=[
            AttachmentOut(id=a.id, name=a.name, current=version_out(a.current), versions=a.versions)
            for a in item.attachments
        ],
    )


@router.get("/destinations")
def list_destinations(owner: Owner, svc: Svc) -> list[DestinationOut]:
    """Whom items of this environment can be about."""
    with svc.transaction() as uow:
        found = dossier.destinations(uow.dossier, owner.environment)
    return [DestinationOut(code=x.code, name=x.name, kind=x.kind) for x in found]


@router.get("/item-types")
def list_item_types(owner: Owner, svc: Svc) -> list[ItemTypeOut]:
    """The item types the calling user may file items of."""
    with svc.transaction() as uow:
        found = dossier.usable_types(uow.dossier, owner)
    return [
        ItemTypeOut(name=x.name, editable=x.editable, confidential=x.confidential) for x in found
    ]


@router.post(
    "/items",
    status_code=201,
    response_model=ItemOut,
    responses={
        200: {
            "model": ItemOut,
            "description": "This submission_id was seen before: the item it made then.",
        }
    },
)
def create_item(request: CreateItemRequest, owner: Owner, svc: Svc) -> JSONResponse:
    """Create an item of finished uploads; 200 with the first item when the
    ``submission_id`` was seen before (a retry)."""
    try:
        with svc.transaction() as uow:
            created, item = dossier.create_item(
                uow,
                svc.policy,
                owner,
                submission_id=request.submission_id,
                subject=request.subject,
                type_name=request.type,
                destination_code=request.destination,
                upload_ids=request.uploads,
                document_date=request.date,
            )
    except (StoreConflict, DomainError):
        # A retry racing the first attempt: it lost the submission id's unique key, or
        # found the uploads already claimed. Answer with the first attempt's item.
        with svc.transaction() as uow:
            earlier = dossier.earlier_submission(uow.dossier, owner, request.submission_id)
        if earlier is None:
            raise
        created, item = False, earlier
    body = item_out(item).model_dump(mode="json")
    return JSONResponse(body, status_code=201 if created else 200)


@router.get("/items")
def list_items(
    owner: Owner,
    svc: Svc,
    destination: str | None = None,
    type: str | None = None,
    text: str | None = None,
    since: Moment | None = None,
    until: Moment | None = None,
    limit: Annotated[int, Query(ge=1, le=dossier.MAX_PAGE)] = 50,
    offset: Offset = 0,
) -> ItemList:
    """Items the caller may see, newest first, filtered and paged."""
    with svc.transaction() as uow:
        found, total = dossier.search(
            uow.dossier,
            owner,
            destination=destination,
            type_name=type,
            text=text,
            since=since,
            until=until,
            limit=limit,
            offset=offset,
        )
    return ItemList(items=[item_out(i) for i in found], total=total)


@router.get("/items/{item_id}")
def get_item(item_id: RowId, owner: Owner, svc: Svc) -> ItemOut:
    """One item with its attachments."""
    with svc.transaction() as uow:
        return item_out(dossier.get_item(uow.dossier, owner, item_id))


@router.get("/items/{item_id}/edit")
def check_edit(item_id: RowId, owner: Owner, svc: Svc) -> ItemOut:
    """The item, if the caller may edit it now; else ``not_editable`` or
    ``connector_blocked`` (the agent asks before it opens a working copy)."""
    with svc.transaction() as uow:
        return item_out(dossier_editing.editable_item(uow.core, uow.dossier, owner, item_id))


@router.get("/items/{item_id}/attachments/{attachment_id}/versions")
def list_versions(item_id: RowId, attachment_id: RowId, owner: Owner, svc: Svc) -> list[VersionOut]:
    """Every version of an attachment, oldest first (conflict versions included)."""
    with svc.transaction() as uow:
        found = dossier.versions(uow.dossier, owner, item_id, attachment_id)
    return [version_out(v) for v in found]


@router.post(
    "/items/{item_id}/attachments/{attachment_id}/versions",
    status_code=201,
    response_model=VersionOut,
)
def new_version(
    item_id: RowId,
    attachment_id: RowId,
    request: NewVersionRequest,
    owner: Owner,
    svc: Svc,
    if_match: Annotated[
        str,
        Header(
            alias="If-Match",
            min_length=1,
            description="The ETag of the version that was edited.",
            examples=['"0123456789abcdef-1"'],
        ),
    ],
) -> JSONResponse:
    """Save a finished upload as the next version (``If-Match``: the edited version's
    ETag). 412 ``version_conflict`` when someone saved in between, unless
    ``keep_as_conflict``: then the upload is kept as a conflict version."""
    with svc.transaction() as uow:
        saved = dossier_editing.new_version(
            uow,
            svc.policy,
            owner,
            item_id=item_id,
            attachment_id=attachment_id,
            if_match=if_match,
            upload_id=request.upload,
            keep_as_conflict=request.keep_as_conflict,
        )
    return JSONResponse(
        version_out(saved).model_dump(mode="json"),
        status_code=201,
        headers={"ETag": saved.etag},
    )


@router.get(
    "/items/{item_id}/content",
    response_class=StreamingResponse,
    responses=DOWNLOAD_RESPONSES,
)
def download_chosen(
    item_id: RowId,
    request: Request,
    owner: Owner,
    svc: Svc,
    attachment: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=MAX_NAME_BYTES,
            description="The attachment's name (else the newest attachment).",
        ),
    ] = None,
) -> Response:
    """The current content of an item's newest attachment, or of the one ``attachment``
    names: what ``koppel open`` downloads, in one request. The headers of an attachment's
    content, and which attachment it is (``Koppel-Attachment-Id``,
    ``Koppel-Attachment-Name``)."""
    with svc.transaction() as uow:
        chosen = dossier.chosen_attachment(uow.dossier, owner, item_id, attachment)
    return version_download(svc.blobs, chosen.current, request.headers, attachment=chosen)


@router.get(
    "/items/{item_id}/attachments/{attachment_id}/content",
    response_class=StreamingResponse,
    responses=DOWNLOAD_RESPONSES,
)
def download(
    item_id: RowId,
    attachment_id: RowId,
    request: Request,
    owner: Owner,
    svc: Svc,
    version: VersionNumber = None,
) -> Response:
    """The content of an attachment's current (or a numbered) version, streamed from the
    blob store. Supports one byte range, ``If-None-Match`` and ``If-Range``."""
    with svc.transaction() as uow:
        found = dossier.version(uow.dossier, owner, item_id, attachment_id, version)
    return version_download(svc.blobs, found, request.headers)
