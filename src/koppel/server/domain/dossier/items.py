"""The rules of the dossier's items: who may use item types and see items, items made
of finished uploads, searching them, their versions, and the overview for analyses.
Destinations and item types are set up in ``dossier_catalog``; editing (new versions) is
in ``dossier_editing``.

Who may use an item type: every user of the environment when the type has no groups,
else the members of its groups. Items of a *confidential* type are visible only to the
members of the type's groups (and to their author, who may have left those groups or
used a type without groups). Items a reader may not see do not exist for that reader:
``not_found``, never ``not_authorized``, so their existence does not leak.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from koppel.i18n import gettext as _
from koppel.protocol.dossier_setup import not_set_up
from koppel.protocol.errors import ErrorCode
from koppel.server.domain.dossier.model import (
    Attachment,
    Destination,
    DossierRepository,
    Item,
    ItemQuery,
    ItemType,
    NewItem,
    OverviewRow,
    Version,
)
from koppel.server.domain.errors import DomainError
from koppel.server.domain.model import Environment, TokenView
from koppel.server.domain.policy import Policy
from koppel.server.domain.transfer.uploads import claim_completed

if TYPE_CHECKING:
    from koppel.server.domain.unit_of_work import UnitOfWork

__all__ = [
    "DossierRepository",
    "OverviewRow",
    "create_item",
    "overview",
]

MAX_PAGE = 200


class StoredFile(Protocol):
    """A finished, committed upload (``uploads.CompletedUpload`` has these fields)."""

    @property
    def filename(self) -> str: ...
    @property
    def media_type(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def sha256(self) -> str: ...
    @property
    def blob_key(self) -> str: ...


def files_of(
    uow: UnitOfWork,
    who: TokenView,
    upload_ids: Sequence[str],
    received: Sequence[StoredFile] | None,
) -> Sequence[StoredFile]:
    """The files a new item or version is made of: ``received`` when they came with the
    request itself (the portal's form, already in the blob store), else the user's
    finished uploads, claimed in this unit of work (refused when unknown or unfinished)."""
    if received is not None:
        return received
    return claim_completed(uow.uploads, who.environment.id, who.membership.id, upload_ids)


def destinations(dossier: DossierRepository, env: Environment) -> list[Destination]:
    """An environment's destinations."""
    return dossier.destinations(env.id)


def may_use(item_type: ItemType, member_groups: set[int]) -> bool:
    """Whether a user in these groups may file items of this type."""
    return not item_type.group_ids or bool(item_type.group_ids & member_groups)


def may_read_type(item_type: ItemType, member_groups: set[int]) -> bool:
    """Whether a user in these groups may see every item of this type (a confidential
    type: only the members of its groups)."""
    return not item_type.confidential or bool(item_type.group_ids & member_groups)


def may_see_item_of(
    item_type: ItemType, author_membership_id: int, membership_id: int, member_groups: set[int]
) -> bool:
    """The one visibility rule: an item of this type by this author is visible to the user
    when the user may read the type or wrote the item. Searches leave out the types
    ``may_read_type`` refuses unless the reader is the author (``ItemQuery``)."""
    return author_membership_id == membership_id or may_read_type(item_type, member_groups)


def may_see(item: Item, membership_id: int, member_groups: set[int]) -> bool:
    """Whether a user may see an item (confidential: only its type's groups, the author)."""
    return may_see_item_of(item.item_type, item.author_membership_id, membership_id, member_groups)


def usable_types(dossier: DossierRepository, who: TokenView) -> list[ItemType]:
    """The item types this user may file items of."""
    groups = dossier.group_ids_of(who.membership.id)
    return [t for t in dossier.item_types(who.environment.id) if may_use(t, groups)]


# --- items
def not_found(who: TokenView, what: str) -> DomainError:
    return DomainError(
        ErrorCode.NOT_FOUND,
        _("{what} does not exist in environment {code} (or you may not see it).").format(
            what=what, code=who.environment.code
        ),
        environment=who.environment.code,
    )


def earlier_submission(
    dossier: DossierRepository, who: TokenView, submission_id: str
) -> Item | None:
    """The item this user's submission with this id created before, if any. Another
    user's submission id is refused: ids are random per submission, so this is a bug."""
    earlier = dossier.item_by_submission(who.environment.id, submission_id)
    if earlier is not None and earlier.author_membership_id != who.membership.id:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            _("This submission id was used by another submission; make a new one."),
            environment=who.environment.code,
        )
    return earlier


def create_item(
    uow: UnitOfWork,
    policy: Policy,
    who: TokenView,
    *,
    submission_id: str,
    subject: str,
    type_name: str,
    destination_code: str,
    upload_ids: Sequence[str] = (),
    received: Sequence[StoredFile] | None = None,
    document_date: datetime | None = None,
) -> tuple[bool, Item]:
    """Create an item of finished uploads (or of files ``received`` with the request):
    one attachment per file, each at version 1. Idempotent by ``submission_id``: a
    repeat returns the first item (created=False)."""
    dossier = uow.dossier
    env = who.environment
    earlier = earlier_submission(dossier, who, submission_id)
    if earlier is not None:
        return False, earlier
    groups = dossier.group_ids_of(who.membership.id)
    types = dossier.item_types(env.id)
    destination = dossier.destination(env.id, destination_code.strip())
    no_destinations = destination is None and not dossier.destinations(env.id)
    if no_destinations or not types:
        # Not the user's mistake: the environment cannot take documents yet.
        raise DomainError(
            ErrorCode.NO_DESTINATIONS if no_destinations else ErrorCode.NO_ITEM_TYPES,
            not_set_up(env.code, destinations=no_destinations, item_types=not types),
            environment=env.code,
        )
    item_type = next((t for t in types if t.name.lower() == type_name.strip().lower()), None)
    if item_type is None:
        raise DomainError(
            ErrorCode.NOT_FOUND,
            _(
                "Environment {code} has no item type {type_name!r}; `koppel items` lists the "
                "types in use, your administrator can add one."
            ).format(code=env.code, type_name=type_name),
            environment=env.code,
        )
    if not may_use(item_type, groups):
        raise DomainError(
            ErrorCode.NOT_AUTHORIZED,
            _(
                "You may not file items of type {name!r} in {code}: it is limited to some "
                "groups. Ask your administrator, or choose another type."
            ).format(name=item_type.name, code=env.code),
            environment=env.code,
        )
    if destination is None:
        raise DomainError(
            ErrorCode.NOT_FOUND,
            _(
                "Environment {code} has no destination {destination_code!r}. Check the code "
                "(your administrator imports destinations)."
            ).format(code=env.code, destination_code=destination_code),
            environment=env.code,
        )
    if len(set(upload_ids)) != len(upload_ids):
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Name each upload only once."))
    files = files_of(uow, who, upload_ids, received)
    now = policy.clock()
    item_id = dossier.add_item(
        NewItem(
            environment_id=env.id,
            subject=subject.strip(),
            item_type_id=item_type.id,
            destination_id=destination.id,
            author_membership_id=who.membership.id,
            workstation_id=who.token.workstation_id,
            workstation_name=who.token.workstation_name,
            created=now,
            document_date=document_date,
            submission_id=submission_id,
        )
    )
    for stored in files:
        attachment_id = dossier.add_attachment(item_id, stored.filename)
        dossier.add_version(make_version(who, attachment_id, 1, stored, now))
    created = dossier.item(env.id, item_id)
    assert created is not None  # just stored in this transaction
    return True, created


def make_version(
    who: TokenView,
    attachment_id: int,
    number: int,
    stored: StoredFile,
    now: datetime,
    name: str | None = None,
    conflict_of: int | None = None,
) -> Version:
    return Version(
        attachment_id=attachment_id,
        number=number,
        name=name or stored.filename,
        media_type=stored.media_type,
        size=stored.size,
        sha256=stored.sha256,
        blob_key=stored.blob_key,
        author_membership_id=who.membership.id,
        author=who.account.login,
        workstation_id=who.token.workstation_id,
        workstation_name=who.token.workstation_name,
        created=now,
        conflict_of=conflict_of,
    )


def get_item(dossier: DossierRepository, who: TokenView, item_id: int) -> Item:
    """An item the user may see, or ``not_found``."""
    found = dossier.item(who.environment.id, item_id)
    groups = dossier.group_ids_of(who.membership.id)
    if found is None or not may_see(found, who.membership.id, groups):
        raise not_found(who, _("Item {item_id}").format(item_id=item_id))
    return found


def search(
    dossier: DossierRepository,
    who: TokenView,
    *,
    destination: str | None = None,
    type_name: str | None = None,
    text: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Item], int]:
    """A page of the items the user may see, newest first, and the total that match."""
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            _("limit is 1 to {max_page}; offset is 0 or more.").format(max_page=MAX_PAGE),
        )
    groups = dossier.group_ids_of(who.membership.id)
    hidden = frozenset(
        t.id for t in dossier.item_types(who.environment.id) if not may_read_type(t, groups)
    )
    return dossier.items(
        ItemQuery(
            environment_id=who.environment.id,
            reader_membership_id=who.membership.id,
            hidden_type_ids=hidden,
            destination_code=destination or None,
            type_name=type_name or None,
            text=(text or "").strip() or None,
            since=since,
            until=until,
            limit=limit,
            offset=offset,
        )
    )


def versions(
    dossier: DossierRepository, who: TokenView, item_id: int, attachment_id: int
) -> list[Version]:
    """Every version of an attachment of an item the user may see, oldest first."""
    item = get_item(dossier, who, item_id)
    if all(a.id != attachment_id for a in item.attachments):
        raise not_found(
            who,
            _("Attachment {attachment_id} of item {item_id}").format(
                attachment_id=attachment_id, item_id=item_id
            ),
        )
    return dossier.versions(attachment_id)


def chosen_attachment(
    dossier: DossierRepository, who: TokenView, item_id: int, name: str | None = None
) -> Attachment:
    """The attachment of an item the user may see that ``name`` names (exactly, else
    ignoring case), or its newest one when no name is given; ``not_found`` when there is
    none, with the names there are."""
    item = get_item(dossier, who, item_id)
    if not item.attachments:
        raise not_found(who, _("An attachment of item {item_id}").format(item_id=item_id))
    if name is None:
        return max(item.attachments, key=lambda a: (a.current.created, a.id))
    found = next((a for a in item.attachments if a.name == name), None) or next(
        (a for a in item.attachments if a.name.lower() == name.lower()), None
    )
    if found is None:
        names = ", ".join(a.name for a in item.attachments)
        raise DomainError(
            ErrorCode.NOT_FOUND,
            _("Item {item_id} has no attachment {name!r}; its attachments: {names}.").format(
                item_id=item_id, name=name, names=names
            ),
            environment=who.environment.code,
        )
    return found


def version(
    dossier: DossierRepository,
    who: TokenView,
    item_id: int,
    attachment_id: int,
    number: int | None = None,
) -> Version:
    """One version (default: the current one) of an attachment the user may see."""
    item = get_item(dossier, who, item_id)
    attachment = next((a for a in item.attachments if a.id == attachment_id), None)
    if attachment is None:
        raise not_found(
            who,
            _("Attachment {attachment_id} of item {item_id}").format(
                attachment_id=attachment_id, item_id=item_id
            ),
        )
    if number is None:
        return attachment.current
    found = next((v for v in dossier.versions(attachment_id) if v.number == number), None)
    if found is None:
        raise not_found(
            who,
            _("Version {number} of attachment {attachment_id}").format(
                number=number, attachment_id=attachment_id
            ),
        )
    return found


# --- for analyses
def overview(
    dossier: DossierRepository,
    environment_id: int,
    reader_membership_id: int,
    destination_code: str | None,
) -> list[OverviewRow]:
    """The items of an environment (or of one destination) that the reader may see now,
    newest first, for the dossier overview: the rule of ``may_see``, with the reader's
    groups as they are when this runs (not when the overview was asked for)."""
    groups = dossier.group_ids_of(reader_membership_id)
    types = {t.id: t for t in dossier.item_types(environment_id)}
    return [
        row
        for row in dossier.overview(environment_id, destination_code)
        if may_see_item_of(
            types[row.item_type_id], row.author_membership_id, reader_membership_id, groups
        )
    ]
