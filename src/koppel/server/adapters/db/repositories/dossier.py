"""The dossier's ``DossierRepository`` on SQLAlchemy Core, on the unit of work's connection."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.sql import ColumnElement, Select

from koppel.server.adapters.db.tables import core as t
from koppel.server.adapters.db.tables import dossier as d
from koppel.server.domain.dossier.model import (
    Attachment,
    Destination,
    Item,
    ItemQuery,
    ItemType,
    NewItem,
    OverviewRow,
    Version,
)


def _destination(row: Row[Any]) -> Destination:
    return Destination(row.environment_id, row.code, row.name, row.kind, row.id)


def _version(row: Row[Any]) -> Version:
    return Version(
        attachment_id=row.attachment_id,
        number=row.number,
        name=row.name,
        media_type=row.media_type,
        size=row.size,
        sha256=row.sha256,
        blob_key=row.blob_key,
        author_membership_id=row.author_membership_id,
        author=row.author,
        workstation_id=row.workstation_id,
        workstation_name=row.workstation_name,
        created=row.created_at,
        conflict_of=row.conflict_of,
        id=row.id,
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_VERSION_COLUMNS = (
    d.attachment_versions,
    t.accounts.c.login.label("author"),
)


class SqlDossierRepository:
    """Dossier storage in one transaction (the connection of ``SqlRepository``)."""

    def __init__(self, connection: Connection) -> None:
        self.c = connection

    # --- destinations
    def destinations(self, environment_id: int) -> list[Destination]:
        rows = self.c.execute(
            select(d.destinations)
            .where(d.destinations.c.environment_id == environment_id)
            .order_by(d.destinations.c.code)
        )
        return [_destination(r) for r in rows]

    def destination(self, environment_id: int, code: str) -> Destination | None:
        row = self.c.execute(
            select(d.destinations).where(
                d.destinations.c.environment_id == environment_id,
                d.destinations.c.code == code,
            )
        ).first()
        return _destination(row) if row else None

    def add_destination(self, destination: Destination) -> Destination:
        result = self.c.execute(
            insert(d.destinations).values(
                environment_id=destination.environment_id,
                code=destination.code,
                name=destination.name,
                kind=destination.kind,
            )
        )
        return Destination(
            destination.environment_id,
            destination.code,
            destination.name,
            destination.kind,
            result.inserted_primary_key[0],  # type: ignore[index]
        )

    def save_destination(self, destination: Destination) -> None:
        self.c.execute(
            update(d.destinations)
            .where(d.destinations.c.id == destination.id)
            .values(name=destination.name, kind=destination.kind)
        )

    # --- item types
    def item_types(self, environment_id: int) -> list[ItemType]:
        rows = self.c.execute(
            select(d.item_types)
            .where(d.item_types.c.environment_id == environment_id)
            .order_by(d.item_types.c.name)
        ).all()
        groups: dict[int, set[int]] = defaultdict(set)
        if rows:
            for item_type_id, group_id in self.c.execute(
                select(d.item_type_groups.c.item_type_id, d.item_type_groups.c.group_id).where(
                    d.item_type_groups.c.item_type_id.in_([r.id for r in rows])
                )
            ):
                groups[item_type_id].add(group_id)
        return [
            ItemType(
                r.environment_id,
                r.name,
                r.editable,
                r.confidential,
                frozenset(groups[r.id]),
                r.id,
            )
            for r in rows
        ]

    def add_item_type(self, item_type: ItemType) -> ItemType:
        result = self.c.execute(
            insert(d.item_types).values(
                environment_id=item_type.environment_id,
                name=item_type.name,
                editable=item_type.editable,
                confidential=item_type.confidential,
            )
        )
        new_id: int = result.inserted_primary_key[0]  # type: ignore[index]
        for group_id in sorted(item_type.group_ids):
            self.c.execute(
                insert(d.item_type_groups).values(item_type_id=new_id, group_id=group_id)
            )
        return ItemType(
            item_type.environment_id,
            item_type.name,
            item_type.editable,
            item_type.confidential,
            item_type.group_ids,
            new_id,
        )

    def group_ids_of(self, membership_id: int) -> set[int]:
        rows = self.c.execute(
            select(t.group_members.c.group_id).where(
                t.group_members.c.membership_id == membership_id
            )
        )
        return {r.group_id for r in rows}

    # --- items
    def add_item(self, item: NewItem) -> int:
        result = self.c.execute(
            insert(d.items).values(
                environment_id=item.environment_id,
                subject=item.subject,
                item_type_id=item.item_type_id,
                destination_id=item.destination_id,
                author_membership_id=item.author_membership_id,
                workstation_id=item.workstation_id,
                workstation_name=item.workstation_name,
                created_at=item.created,
                document_date=item.document_date,
                submission_id=item.submission_id,
            )
        )
        new_id: int = result.inserted_primary_key[0]  # type: ignore[index]
        return new_id

    def _item_select(self) -> Select[Any]:
        return (
            select(
                d.items,
                t.environments.c.code.label("environment"),
                t.accounts.c.login.label("author"),
                d.destinations.c.code.label("destination_code"),
                d.destinations.c.name.label("destination_name"),
                d.destinations.c.kind.label("destination_kind"),
            )
            .join(t.environments, t.environments.c.id == d.items.c.environment_id)
            .join(d.destinations, d.destinations.c.id == d.items.c.destination_id)
            .join(t.memberships, t.memberships.c.id == d.items.c.author_membership_id)
            .join(t.accounts, t.accounts.c.id == t.memberships.c.account_id)
        )

    def _items(self, rows: Sequence[Row[Any]]) -> list[Item]:
        if not rows:
            return []
        types = {it.id: it for it in self.item_types(rows[0].environment_id)}
        attachments = self._attachments([r.id for r in rows])
        return [
            Item(
                id=r.id,
                environment_id=r.environment_id,
                environment=r.environment,
                subject=r.subject,
                item_type=types[r.item_type_id],
                destination=Destination(
                    r.environment_id,
                    r.destination_code,
                    r.destination_name,
                    r.destination_kind,
                    r.destination_id,
                ),
                author_membership_id=r.author_membership_id,
                author=r.author,
                workstation_id=r.workstation_id,
                workstation_name=r.workstation_name,
                created=r.created_at,
                document_date=r.document_date,
                submission_id=r.submission_id,
                attachments=attachments.get(r.id, []),
            )
            for r in rows
        ]

    def _attachments(self, item_ids: Sequence[int]) -> dict[int, list[Attachment]]:
        rows = self.c.execute(
            select(d.attachments)
            .where(d.attachments.c.item_id.in_(item_ids))
            .order_by(d.attachments.c.id)
        ).all()
        if not rows:
            return {}
        chains: dict[int, list[Version]] = defaultdict(list)
        for row in self.c.execute(
            self._version_select()
            .where(d.attachment_versions.c.attachment_id.in_([r.id for r in rows]))
            .order_by(d.attachment_versions.c.number)
        ):
            chains[row.attachment_id].append(_version(row))
        found: dict[int, list[Attachment]] = defaultdict(list)
        for row in rows:
            chain = chains[row.id]
            current = next(v for v in reversed(chain) if v.conflict_of is None)
            found[row.item_id].append(
                Attachment(row.item_id, row.name, current, len(chain), row.id)
            )
        return found

    def item(self, environment_id: int, item_id: int) -> Item | None:
        rows = self.c.execute(
            self._item_select().where(
                d.items.c.environment_id == environment_id, d.items.c.id == item_id
            )
        ).all()
        found = self._items(rows)
        return found[0] if found else None

    def item_by_submission(self, environment_id: int, submission_id: str) -> Item | None:
        rows = self.c.execute(
            self._item_select().where(
                d.items.c.environment_id == environment_id,
                d.items.c.submission_id == submission_id,
            )
        ).all()
        found = self._items(rows)
        return found[0] if found else None

    def _conditions(self, query: ItemQuery) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = [d.items.c.environment_id == query.environment_id]
        if query.hidden_type_ids:
            where.append(
                or_(
                    d.items.c.item_type_id.not_in(sorted(query.hidden_type_ids)),
                    d.items.c.author_membership_id == query.reader_membership_id,
                )
            )
        if query.destination_code:
            where.append(d.destinations.c.code == query.destination_code)
        if query.type_name:
            where.append(func.lower(d.item_types.c.name) == query.type_name.lower())
        if query.text:
            pattern = f"%{_escape_like(query.text.lower())}%"
            where.append(func.lower(d.items.c.subject).like(pattern, escape="\\"))
        if query.since:
            where.append(d.items.c.created_at >= query.since)
        if query.until:
            where.append(d.items.c.created_at < query.until)
        return where

    def items(self, query: ItemQuery) -> tuple[list[Item], int]:
        where = and_(*self._conditions(query))
        base = self._item_select().join(d.item_types, d.item_types.c.id == d.items.c.item_type_id)
        total = self.c.execute(
            select(func.count()).select_from(base.where(where).subquery())
        ).scalar_one()
        rows = self.c.execute(
            base.where(where)
            .order_by(d.items.c.created_at.desc(), d.items.c.id.desc())
            .limit(query.limit)
            .offset(query.offset)
        ).all()
        return self._items(rows), int(total)

    def overview(self, environment_id: int, destination_code: str | None) -> list[OverviewRow]:
        where: list[ColumnElement[bool]] = [d.items.c.environment_id == environment_id]
        if destination_code:
            where.append(d.destinations.c.code == destination_code)
        rows = self.c.execute(
            self._item_select()
            .add_columns(d.item_types.c.name.label("type_name"))
            .join(d.item_types, d.item_types.c.id == d.items.c.item_type_id)
            .where(*where)
            .order_by(d.items.c.created_at.desc(), d.items.c.id.desc())
        ).all()
        attachments = self._attachments([r.id for r in rows]) if rows else {}
        return [
            OverviewRow(
                item_id=r.id,
                created=r.created_at,
                subject=r.subject,
                type=r.type_name,
                destination_code=r.destination_code,
                destination_name=r.destination_name,
                author=r.author,
                attachment_count=len(attachments.get(r.id, [])),
                total_size=sum(a.current.size for a in attachments.get(r.id, [])),
                item_type_id=r.item_type_id,
                author_membership_id=r.author_membership_id,
            )
            for r in rows
        ]

    # --- attachments and versions
    def add_attachment(self, item_id: int, name: str) -> int:
        result = self.c.execute(insert(d.attachments).values(item_id=item_id, name=name))
        new_id: int = result.inserted_primary_key[0]  # type: ignore[index]
        return new_id

    def add_version(self, version: Version) -> Version:
        result = self.c.execute(
            insert(d.attachment_versions).values(
                attachment_id=version.attachment_id,
                number=version.number,
                name=version.name,
                media_type=version.media_type,
                size=version.size,
                sha256=version.sha256,
                blob_key=version.blob_key,
                author_membership_id=version.author_membership_id,
                workstation_id=version.workstation_id,
                workstation_name=version.workstation_name,
                created_at=version.created,
                conflict_of=version.conflict_of,
            )
        )
        new_id: int = result.inserted_primary_key[0]  # type: ignore[index]
        return Version(**{**version.__dict__, "id": new_id})

    def _version_select(self) -> Select[Any]:
        return (
            select(*_VERSION_COLUMNS)
            .join(
                t.memberships,
                t.memberships.c.id == d.attachment_versions.c.author_membership_id,
            )
            .join(t.accounts, t.accounts.c.id == t.memberships.c.account_id)
        )

    def versions(self, attachment_id: int) -> list[Version]:
        # Lock the attachment row first: concurrent saves of one attachment take turns,
        # so two of them cannot both become version N+1 (PostgreSQL; SQLite serializes).
        self.c.execute(
            select(d.attachments.c.id).where(d.attachments.c.id == attachment_id).with_for_update()
        ).first()
        rows = self.c.execute(
            self._version_select()
            .where(d.attachment_versions.c.attachment_id == attachment_id)
            .order_by(d.attachment_versions.c.number)
        )
        return [_version(r) for r in rows]
