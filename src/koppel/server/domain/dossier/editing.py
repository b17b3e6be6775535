"""Editing dossier items: new versions of an attachment, only for editable item types
while the environment's temporary-office-access connector is open, and only on top of
the version the editor started from (``If-Match``) — otherwise a conflict version."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from koppel.i18n import gettext as _
from koppel.protocol.errors import ErrorCode
from koppel.server.domain.dossier.items import (
    StoredFile,
    files_of,
    get_item,
    make_version,
    not_found,
)
from koppel.server.domain.dossier.model import DossierRepository, Item, Version
from koppel.server.domain.errors import DomainError
from koppel.server.domain.model import ConnectorName, TokenView
from koppel.server.domain.policy import Policy
from koppel.server.domain.repository import Repository

if TYPE_CHECKING:
    from koppel.server.domain.unit_of_work import UnitOfWork


def check_editable(repo: Repository, who: TokenView, item: Item) -> None:
    """Refuse editing unless the item's type is editable and the environment's
    temporary-office-access connector is open."""
    code = who.environment.code
    if not item.item_type.editable:
        raise DomainError(
            ErrorCode.NOT_EDITABLE,
            _(
                "Items of type {name!r} cannot be edited; open the item to read it, or file a "
                "new item."
            ).format(name=item.item_type.name),
            environment=code,
        )
    office = next(
        (
            c
            for c in repo.connectors([who.environment.id])
            if c.name == ConnectorName.TEMPORARY_OFFICE_ACCESS
        ),
        None,
    )
    if office is None or office.blocked:
        raise DomainError(
            ErrorCode.CONNECTOR_BLOCKED,
            _(
                "Editing in {code} needs the app connector temporary-office-access, which is "
                "blocked. Ask your administrator to unblock it (`koppel-admin connector "
                "unblock {code} temporary-office-access`)."
            ).format(code=code),
            environment=code,
        )


def editable_item(
    repo: Repository, dossier: DossierRepository, who: TokenView, item_id: int
) -> Item:
    """An item the user may see and edit now, or the refusal that says why not."""
    item = get_item(dossier, who, item_id)
    check_editable(repo, who, item)
    return item


def _conflict_name(name: str, who: TokenView, now: datetime) -> str:
    stem, dot, suffix = name.rpartition(".")
    if not dot or not stem:
        stem, suffix = name, ""
    tag = f" (conflict {who.account.login} {now:%Y-%m-%d %H%M})"
    return f"{stem}{tag}.{suffix}" if suffix else f"{stem}{tag}"


def new_version(
    uow: UnitOfWork,
    policy: Policy,
    who: TokenView,
    *,
    item_id: int,
    attachment_id: int,
    if_match: str | None,
    upload_id: str = "",
    received: StoredFile | None = None,
    keep_as_conflict: bool = False,
) -> Version:
    """Save an upload (or a file ``received`` with the request) as the next version of
    an attachment, if ``if_match`` names its current version. Otherwise
    ``version_conflict`` — or, with ``keep_as_conflict``, the upload is kept as a
    conflict version beside it and the current version stays."""
    dossier = uow.dossier
    repo = uow.core
    item = editable_item(repo, dossier, who, item_id)
    attachment = next((a for a in item.attachments if a.id == attachment_id), None)
    if attachment is None:
        raise not_found(
            who,
            _("Attachment {attachment_id} of item {item_id}").format(
                attachment_id=attachment_id, item_id=item_id
            ),
        )
    if not if_match:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            _(
                "Name the version you edited in If-Match (its ETag), so that nobody's changes "
                "are overwritten."
            ),
        )
    # Lock the chain (where the database can) so two saves cannot both take a number.
    chain = dossier.versions(attachment_id)
    current = next(v for v in reversed(chain) if v.conflict_of is None)
    named = {tag.strip() for tag in if_match.split(",")}
    conflict = current.etag not in named and "*" not in named
    if conflict and not keep_as_conflict:
        raise DomainError(
            ErrorCode.VERSION_CONFLICT,
            _(
                "{name} changed since you opened it: version {number} by {author} is newer "
                "than yours. Save yours as a conflict version (keep_as_conflict) and merge by "
                "hand."
            ).format(name=attachment.name, number=current.number, author=current.author),
            environment=who.environment.code,
        )
    (stored,) = files_of(uow, who, [upload_id], None if received is None else [received])
    now = policy.clock()
    number = chain[-1].number + 1
    if conflict:
        return dossier.add_version(
            make_version(
                who,
                attachment_id,
                number,
                stored,
                now,
                name=_conflict_name(current.name, who, now),
                conflict_of=current.number,
            )
        )
    # An edited file keeps its attachment's name even when the editor saved it renamed.
    return dossier.add_version(make_version(who, attachment_id, number, stored, now, current.name))
