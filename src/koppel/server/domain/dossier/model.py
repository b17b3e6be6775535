"""The dossier's domain objects and what the dossier needs from storage.

An *item* is one entry of an environment's dossier (a letter, a payslip, an invoice):
about one *destination*, of one *item type*, with one or more *attachments*, each a
chain of numbered *versions*. Versions saved aside after an edit conflict carry
``conflict_of`` and never become an attachment's current version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from koppel.i18n import N_
from koppel.i18n import gettext as _

DESTINATION_KINDS = ("organisation", "person", "debtor", "creditor", "employee")

# What each kind is called on a page; the stored kind stays the English code.
_KIND_NAMES = {
    "organisation": N_("organisation"),
    "person": N_("person"),
    "debtor": N_("debtor"),
    "creditor": N_("creditor"),
    "employee": N_("employee"),
}


def kind_name(kind: str) -> str:
    """A destination kind as the reader's language calls it (the code itself if unknown)."""
    name = _KIND_NAMES.get(kind)
    return _(name) if name is not None else kind


@dataclass(frozen=True)
class Destination:
    """Whom items are about: the organisation itself, a person, a debtor, ..."""

    environment_id: int
    code: str
    name: str
    kind: str
    id: int = 0


@dataclass(frozen=True)
class ItemType:
    """A kind of item. Groups limit who may use it (none: every user of the environment)
    and, when confidential, who may see its items."""

    environment_id: int
    name: str
    editable: bool = False
    confidential: bool = False
    group_ids: frozenset[int] = frozenset()
    id: int = 0


@dataclass(frozen=True)
class Version:
    """One stored content of an attachment."""

    attachment_id: int
    number: int
    name: str
    media_type: str
    size: int
    sha256: str
    blob_key: str
    author_membership_id: int
    author: str
    workstation_id: str | None
    workstation_name: str | None
    created: datetime
    conflict_of: int | None = None
    id: int = 0

    @property
    def etag(self) -> str:
        """The strong entity tag of this version (what ``If-Match`` names)."""
        return f'"{self.sha256[:16]}-{self.number}"'


@dataclass(frozen=True)
class Attachment:
    """A file of an item with its current (newest non-conflict) version."""

    item_id: int
    name: str
    current: Version
    versions: int
    id: int = 0


@dataclass(frozen=True)
class NewItem:
    """What creating an item stores."""

    environment_id: int
    subject: str
    item_type_id: int
    destination_id: int
    author_membership_id: int
    workstation_id: str | None
    workstation_name: str | None
    created: datetime
    document_date: datetime | None
    submission_id: str | None


@dataclass(frozen=True)
class Item:
    """An item as read back, with its type, destination, author and attachments."""

    id: int
    environment_id: int
    environment: str
    subject: str
    item_type: ItemType
    destination: Destination
    author_membership_id: int
    author: str
    workstation_id: str | None
    workstation_name: str | None
    created: datetime
    document_date: datetime | None
    submission_id: str | None
    attachments: list[Attachment] = field(default_factory=list)


@dataclass(frozen=True)
class ItemQuery:
    """Filters of an item search; ``hidden_type_ids`` are confidential types the reader
    may not see (their items are left out unless the reader wrote them)."""

    environment_id: int
    reader_membership_id: int
    hidden_type_ids: frozenset[int] = frozenset()
    destination_code: str | None = None
    type_name: str | None = None
    text: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True)
class OverviewRow:
    """One line of the dossier overview (C's .xlsx analysis)."""

    item_id: int
    created: datetime
    subject: str
    type: str
    destination_code: str
    destination_name: str
    author: str
    attachment_count: int
    total_size: int
    # Who may see the row (``dossier.may_see_item_of``); not shown in the workbook.
    item_type_id: int
    author_membership_id: int


class DossierRepository(Protocol):
    """Storage of the dossier, within one unit of work."""

    # --- destinations
    def destinations(self, environment_id: int) -> list[Destination]:
        """An environment's destinations, ordered by code."""
        ...

    def destination(self, environment_id: int, code: str) -> Destination | None:
        """A destination by code."""
        ...

    def add_destination(self, destination: Destination) -> Destination:
        """Store a new destination."""
        ...

    def save_destination(self, destination: Destination) -> None:
        """Store a changed name or kind."""
        ...

    # --- item types
    def item_types(self, environment_id: int) -> list[ItemType]:
        """An environment's item types with their groups, ordered by name."""
        ...

    def add_item_type(self, item_type: ItemType) -> ItemType:
        """Store a new item type with its groups."""
        ...

    def group_ids_of(self, membership_id: int) -> set[int]:
        """The groups a membership belongs to."""
        ...

    # --- items
    def item_by_submission(self, environment_id: int, submission_id: str) -> Item | None:
        """The item an earlier submission with this id created, if any."""
        ...

    def add_item(self, item: NewItem) -> int:
        """Store a new item; return its id."""
        ...

    def item(self, environment_id: int, item_id: int) -> Item | None:
        """An item of an environment with its attachments."""
        ...

    def items(self, query: ItemQuery) -> tuple[list[Item], int]:
        """A page of matching items, newest first, and how many match in all."""
        ...

    def overview(self, environment_id: int, destination_code: str | None) -> list[OverviewRow]:
        """Every item of an environment (or one destination), newest first, whoever may
        see it: ``dossier.overview`` leaves out what its reader may not see."""
        ...

    # --- attachments and versions
    def add_attachment(self, item_id: int, name: str) -> int:
        """Store a new attachment of an item; return its id."""
        ...

    def add_version(self, version: Version) -> Version:
        """Store a new version."""
        ...

    def versions(self, attachment_id: int) -> list[Version]:
        """Every version of an attachment, oldest first; locked where the database can."""
        ...
