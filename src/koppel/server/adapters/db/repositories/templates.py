"""The domain's ``TemplateRepository`` on SQLAlchemy Core, on the unit of work's
connection: the firms' dossier templates, and the sizes of the environments' own
catalogs that ``koppel-admin check`` reads in bulk."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection

from koppel.server.adapters.db.tables import dossier as d
from koppel.server.adapters.db.tables.templates import (
    dossier_template_destinations as td,
)
from koppel.server.adapters.db.tables.templates import (
    dossier_template_item_types as tt,
)
from koppel.server.domain.dossier.template import (
    CatalogSize,
    TemplateDestination,
    TemplateItemType,
)

# Bound the IN lists of the bulk counts (a host may have thousands of environments).
_CHUNK = 500


class SqlTemplateRepository:
    """Templates in ``dossier_template_destinations`` and ``dossier_template_item_types``."""

    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def destinations(self, firm_id: int) -> list[TemplateDestination]:
        rows = self.c.execute(select(td).where(td.c.firm_id == firm_id).order_by(td.c.code))
        return [TemplateDestination(r.code, r.name, r.kind) for r in rows]

    def item_types(self, firm_id: int) -> list[TemplateItemType]:
        rows = self.c.execute(select(tt).where(tt.c.firm_id == firm_id).order_by(tt.c.name))
        return [
            TemplateItemType(r.name, r.editable, r.confidential, tuple(str(g) for g in r.groups))
            for r in rows
        ]

    def save_destination(self, firm_id: int, destination: TemplateDestination) -> None:
        values = {"name": destination.name, "kind": destination.kind}
        done = self.c.execute(
            update(td).where(td.c.firm_id == firm_id, td.c.code == destination.code).values(values)
        )
        if done.rowcount == 0:
            self.c.execute(insert(td).values(firm_id=firm_id, code=destination.code, **values))

    def add_item_type(self, firm_id: int, item_type: TemplateItemType) -> None:
        self.c.execute(
            insert(tt).values(
                firm_id=firm_id,
                name=item_type.name,
                editable=item_type.editable,
                confidential=item_type.confidential,
                groups=list(item_type.groups),
            )
        )

    def remove_destination(self, firm_id: int, code: str) -> None:
        self.c.execute(delete(td).where(td.c.firm_id == firm_id, td.c.code == code))

    def remove_item_type(self, firm_id: int, name: str) -> None:
        self.c.execute(delete(tt).where(tt.c.firm_id == firm_id, tt.c.name == name))

    def catalog_sizes(self, environment_ids: Sequence[int]) -> dict[int, CatalogSize]:
        return self._sizes(
            environment_ids,
            d.destinations.c.environment_id,
            d.item_types.c.environment_id,
        )

    def template_sizes(self, firm_ids: Sequence[int]) -> dict[int, CatalogSize]:
        return self._sizes(firm_ids, td.c.firm_id, tt.c.firm_id)

    def _sizes(self, ids: Sequence[int], first: Any, second: Any) -> dict[int, CatalogSize]:
        counts: dict[int, list[int]] = {}
        wanted = sorted(set(ids))
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            for slot, column in enumerate((first, second)):
                query = select(column, func.count()).where(column.in_(chunk)).group_by(column)
                for owner, count in self.c.execute(query):
                    counts.setdefault(owner, [0, 0])[slot] = count
        return {owner: CatalogSize(*found) for owner, found in counts.items()}
