"""The dossier of an environment: destinations, searching items, an item with its
attachments and versions, downloads, uploads (a new item, an attachment, a new version)
and the "Edit on my computer" button, a ``koppel://edit`` link the agent opens
(docs/koppel-links.md).

Thin: who may see, file and edit what is decided by the agent API's rules
(``domain/dossier.py``, ``dossier_editing.py``; ``dossier_portal.py`` for what only the
portal does), with the signed-in user acting as ``portal.acting_member``. Uploads are
streamed into the blob store with the server's size limit (``form_upload.py``).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from koppel.i18n import gettext as _
from koppel.protocol.errors import ErrorCode
from koppel.protocol.extensions import NO_EXTENSION, shown_list
from koppel.protocol.links import edit_link
from koppel.server.adapters.http.downloads import (
    version_download,
)
from koppel.server.adapters.http.params import RowId, VersionNumber, page_number
from koppel.server.adapters.web import context as ctx
from koppel.server.adapters.web.form_upload import ReceivedFile, receive_form
from koppel.server.adapters.web.pages import form_date, redirect
from koppel.server.adapters.web.templating import render
from koppel.server.domain import periods
from koppel.server.domain.dossier import editing as dossier_editing
from koppel.server.domain.dossier import items as dossier
from koppel.server.domain.dossier.model import Item, Version
from koppel.server.domain.errors import DomainError
from koppel.server.domain.model import TokenView
from koppel.server.domain.portal import dossier as dossier_portal
from koppel.server.domain.portal import sessions as web_sessions
from koppel.server.domain.portal.environments import acting_member
from koppel.server.domain.transfer import extensions

router = APIRouter()

PAGE_SIZE = 50
_NOTICE_LIMIT = 300
_BASE = "/portal/{code}/environments/{env}/dossier"


def _who(user: ctx.PortalUser, env: str) -> TokenView:
    return acting_member(user.svc.policy, user.environment(env), user.account)


def _dossier_path(user: ctx.PortalUser, env: str, *parts: str) -> str:
    return user.path("environments", env, "dossier", *parts)


def _notice(request: Request) -> str | None:
    return request.query_params.get("done", "").strip()[:_NOTICE_LIMIT] or None


def _csrf_check(user: ctx.PortalUser) -> Any:
    def check(presented: str | None) -> None:
        if not web_sessions.csrf_matches(user.session, presented):
            raise DomainError(
                ErrorCode.CSRF_FAILED,
                _(
                    "This form expired or did not come from this portal, so nothing was "
                    "uploaded. Reload the page and try again."
                ),
            )

    return check


def _allowlist(user: ctx.PortalUser, who: TokenView) -> extensions.Allowlist:
    with user.transaction() as uow:
        return extensions.allowlist(uow.extensions, who.environment)


def _file_types(allowed: extensions.Allowlist) -> dict[str, str]:
    """What the upload forms say about file types: the accepted list for people, and the
    file input's ``accept`` (only a hint to the browser's picker; the server checks)."""
    ordered = allowed.ordered()
    no_extension = NO_EXTENSION in allowed.extensions
    return {
        "accepted": shown_list(allowed.extensions),
        "accept": "" if no_extension else ",".join(f".{e}" for e in ordered),
    }


async def _received(
    request: Request, user: ctx.PortalUser, who: TokenView
) -> tuple[dict[str, str], ReceivedFile]:
    allowed = await run_in_threadpool(_allowlist, user, who)
    form = await receive_form(
        request, user.svc.blobs, user.svc.settings.upload_limits(), allowed, _csrf_check(user)
    )
    return form.fields, form.file


async def _or_forget(user: ctx.PortalUser, stored: ReceivedFile, work: Any) -> Any:
    """Run ``work`` (a domain call that takes the stored file); delete the blob if refused."""
    try:
        return await run_in_threadpool(work)
    except Exception:
        await run_in_threadpool(user.svc.blobs.delete, stored.blob_key)
        raise


# --- the dossier page: destinations, search, new item ----------------------------------
@router.get(_BASE, name="dossier")
def dossier_page(
    request: Request,
    user: ctx.SignedIn,
    env: str,
    destination: str = "",
    type: str = "",
    text: str = "",
    since: str = "",
    until: str = "",
    page: Annotated[int, page_number(PAGE_SIZE)] = 1,
) -> Response:
    """Destinations, the search form and the matching items (newest first, paged), and
    the form that files a new item."""
    who = _who(user, env)
    first, last = form_date(since, "from"), form_date(until, "to")
    page = max(page, 1)
    with user.transaction() as uow:
        store = uow.dossier
        destinations = dossier.destinations(store, who.environment)
        items, total = dossier.search(
            store,
            who,
            destination=destination.strip() or None,
            type_name=type.strip() or None,
            text=text,
            since=periods.start_of(first) if first else None,
            # The form's "to" date is inclusive: items up to the end of that day.
            until=periods.end_of(last) if last else None,
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
        )
        types = dossier_portal.searchable_types(store, who)
        usable = dossier.usable_types(store, who)
        allowed = extensions.allowlist(uow.extensions, who.environment)
    query = {"destination": destination, "type": type, "text": text, "since": since,
             "until": until}  # fmt: skip
    kept = {k: v for k, v in query.items() if v}
    pages = max(1, -(-total // PAGE_SIZE))
    return render(
        request,
        "dossier.html",
        {
            "user": user,
            "shown": user.environment(env),
            "destinations": destinations,
            "items": items,
            "total": total,
            "types": types,
            "usable": usable,
            "query": query,
            "page": page,
            "pages": pages,
            "previous": urlencode({**kept, "page": page - 1}) if page > 1 else None,
            "next": urlencode({**kept, "page": page + 1}) if page < pages else None,
            "notice": _notice(request),
            "max_size": user.svc.settings.upload_limits().max_size,
            **_file_types(allowed),
        },
    )


@router.post(f"{_BASE}/items", name="dossier_new_item")
async def new_item(request: Request, user: ctx.SignedIn, env: str) -> Response:
    """File a new item with one attachment (multipart form, streamed; CSRF in the form)."""
    who = await run_in_threadpool(_who, user, env)
    fields, stored = await _received(request, user, who)

    def create() -> Item:
        with user.transaction() as uow:
            subject = fields.get("subject", "").strip()
            if not subject:
                raise DomainError(ErrorCode.VALIDATION_ERROR, _("Give the item a subject."))
            _filed, item = dossier.create_item(
                uow,
                user.svc.policy,
                who,
                submission_id=f"portal-{uuid.uuid4().hex}",
                subject=subject[:500],
                type_name=fields.get("type", ""),
                destination_code=fields.get("destination", ""),
                received=[stored],
                document_date=None,
            )
            return item

    item: Item = await _or_forget(user, stored, create)
    done = _("Filed item {id} with {name}.").format(id=item.id, name=stored.filename)
    return redirect(f"{_dossier_path(user, who.environment.code, 'items', str(item.id))}?"
                    + urlencode({"done": done}))  # fmt: skip


# --- one item ----------------------------------------------------------------------------
@router.get(f"{_BASE}/items/{{item_id}}", name="dossier_item")
def item_page(request: Request, user: ctx.SignedIn, env: str, item_id: RowId) -> Response:
    """An item: its facts, attachments with every version and their downloads, the
    "Edit on my computer" link (or why editing is not possible), and the upload forms."""
    who = _who(user, env)
    with user.transaction() as uow:
        store = uow.dossier
        item = dossier.get_item(store, who, item_id)
        chains: dict[int, list[Version]] = {
            a.id: dossier.versions(store, who, item_id, a.id) for a in item.attachments
        }
        refusal = dossier_portal.edit_refusal(uow.core, who, item)
        may_add = dossier.may_use(item.item_type, store.group_ids_of(who.membership.id))
        allowed = extensions.allowlist(uow.extensions, who.environment)
    server = who.environment.api_url or user.svc.policy.public_url
    links = {
        a.id: edit_link(server, who.environment.code, item.id, a.name) for a in item.attachments
    }
    return render(
        request,
        "dossier_item.html",
        {
            "user": user,
            "shown": user.environment(env),
            "item": item,
            "chains": chains,
            "edit_links": links if refusal is None else {},
            "edit_refusal": refusal,
            "may_add": may_add,
            "notice": _notice(request),
            "max_size": user.svc.settings.upload_limits().max_size,
            **_file_types(allowed),
        },
    )


@router.post(f"{_BASE}/items/{{item_id}}/attachments", name="dossier_add_attachment")
async def add_attachment(
    request: Request, user: ctx.SignedIn, env: str, item_id: RowId
) -> Response:
    """Add a file to an item as a new attachment (multipart form, streamed)."""
    who = await run_in_threadpool(_who, user, env)
    _fields, stored = await _received(request, user, who)

    def add() -> Item:
        with user.transaction() as uow:
            return dossier_portal.add_attachment(uow.dossier, user.svc.policy, who, item_id, stored)

    await _or_forget(user, stored, add)
    done = _("Added {name} to item {id}.").format(name=stored.filename, id=item_id)
    return redirect(f"{_dossier_path(user, who.environment.code, 'items', str(item_id))}?"
                    + urlencode({"done": done}))  # fmt: skip


@router.post(
    f"{_BASE}/items/{{item_id}}/attachments/{{attachment_id}}/versions",
    name="dossier_new_version",
)
async def new_version(
    request: Request, user: ctx.SignedIn, env: str, item_id: RowId, attachment_id: RowId
) -> Response:
    """Save an uploaded file as the next version of an attachment. The form names the
    version it was shown (``if_match``): when someone saved since, nothing is replaced."""
    who = await run_in_threadpool(_who, user, env)
    fields, stored = await _received(request, user, who)

    def save() -> Version:
        with user.transaction() as uow:
            return dossier_editing.new_version(
                uow,
                user.svc.policy,
                who,
                item_id=item_id,
                attachment_id=attachment_id,
                if_match=fields.get("if_match") or None,
                received=stored,
            )

    saved: Version = await _or_forget(user, stored, save)
    done = _("Saved {name} as version {number}.").format(name=saved.name, number=saved.number)
    return redirect(f"{_dossier_path(user, who.environment.code, 'items', str(item_id))}?"
                    + urlencode({"done": done}))  # fmt: skip


@router.get(
    f"{_BASE}/items/{{item_id}}/attachments/{{attachment_id}}/content",
    name="dossier_attachment_content",
)
def attachment_content(
    request: Request,
    user: ctx.SignedIn,
    env: str,
    item_id: RowId,
    attachment_id: RowId,
    version: VersionNumber = None,
) -> Response:
    """An attachment's current (or numbered) version, streamed as the agent API does."""
    who = _who(user, env)
    with user.transaction() as uow:
        found = dossier.version(uow.dossier, who, item_id, attachment_id, version)
    return version_download(user.svc.blobs, found, request.headers)
