"""What the portal's dossier pages need beyond the agent API's rules (which they reuse
from ``dossier`` and ``dossier_editing``): the types a search can name, whether an item
may be edited now (to show or explain the "Edit on my computer" button), and adding an
attachment to an existing item.

Adding an attachment is filing a file under an item's type: allowed to whoever may see
the item and may use its type (as creating an item with that file would be). A new
*version* of an attachment is an edit and follows ``dossier_editing.new_version``.
"""

from __future__ import annotations

from koppel.i18n import gettext as _
from koppel.protocol.errors import ErrorCode
from koppel.protocol.functions import Function
from koppel.server.domain.dossier.editing import check_editable
from koppel.server.domain.dossier.items import (
    StoredFile,
    get_item,
    make_version,
    may_use,
)
from koppel.server.domain.dossier.model import DossierRepository, Item, ItemType
from koppel.server.domain.errors import DomainError
from koppel.server.domain.model import TokenView
from koppel.server.domain.policy import Policy
from koppel.server.domain.repository import Repository


def searchable_types(dossier: DossierRepository, who: TokenView) -> list[ItemType]:
    """The item types whose items this user may see (a confidential type only for its
    groups), for the search form."""
    groups = dossier.group_ids_of(who.membership.id)
    return [
        t
        for t in dossier.item_types(who.environment.id)
        if not t.confidential or may_use(t, groups)
    ]


def edit_refusal(repo: Repository, who: TokenView, item: Item) -> DomainError | None:
    """Why the user cannot edit ``item`` now (not editable, connector blocked), or None."""
    try:
        check_editable(repo, who, item)
    except DomainError as refusal:
        # The page shows this on the item itself: worded for that reader (no "open the
        # item"; the koppel-admin command only for who administers the environment), with
        # the agent's error code.
        if refusal.code is ErrorCode.NOT_EDITABLE:
            message = _(
                "Dossier items of type “{name}” cannot be edited on your computer; "
                "to change this one, file a new dossier item."
            ).format(name=item.item_type.name)
        elif Function.APP_CONNECTOR in repo.functions_of([who.membership.id]).get(
            who.membership.id, set()
        ):
            return refusal
        else:
            message = _(
                "Editing on your computer is not possible now: the app connector for "
                "temporary office access of {code} is blocked. Ask your administrator to "
                "unblock it."
            ).format(code=who.environment.code)
        return DomainError(refusal.code, message, environment=refusal.environment)
    return None


def add_attachment(
    dossier: DossierRepository,
    policy: Policy,
    who: TokenView,
    item_id: int,
    stored: StoredFile,
) -> Item:
    """Add a stored file to an item as a new attachment (version 1). A name the item
    already has is refused: that is a new version of that attachment."""
    item = get_item(dossier, who, item_id)
    code = who.environment.code
    if not may_use(item.item_type, dossier.group_ids_of(who.membership.id)):
        raise DomainError(
            ErrorCode.NOT_AUTHORIZED,
            _(
                "You may not file items of type {name!r} in {code}, so you cannot add "
                "attachments to this item. Ask your administrator."
            ).format(name=item.item_type.name, code=code),
            environment=code,
        )
    if any(a.name.lower() == stored.filename.lower() for a in item.attachments):
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            _(
                "Item {item_id} already has an attachment {filename!r}: upload it as a new "
                "version of that attachment, or rename the file."
            ).format(item_id=item_id, filename=stored.filename),
            environment=code,
        )
    attachment_id = dossier.add_attachment(item.id, stored.filename)
    dossier.add_version(make_version(who, attachment_id, 1, stored, policy.clock()))
    updated = dossier.item(who.environment.id, item.id)
    assert updated is not None  # read back in the same transaction
    return updated
