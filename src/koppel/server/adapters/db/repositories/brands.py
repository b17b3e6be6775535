"""The domain's ``BrandRepository`` on SQLAlchemy Core, on the unit of work's connection."""

from __future__ import annotations

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection

from koppel.server.adapters.db.tables.brands import portal_brands as t
from koppel.server.domain.portal.branding import Brand


class SqlBrandRepository:
    """Portal brands in ``portal_brands``."""

    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def brand(self, environment_id: int, *, with_logo: bool = True) -> Brand | None:
        """The environment's brand, if it has one (the logo's bytes only if asked)."""
        columns = [t.c.environment_id, t.c.color, t.c.logo_type, t.c.updated_at]
        if with_logo:
            columns.append(t.c.logo)
        row = self.c.execute(select(*columns).where(t.c.environment_id == environment_id)).first()
        if row is None:
            return None
        logo = row.logo if with_logo else None
        return Brand(
            environment_id=row.environment_id,
            color=row.color,
            logo=bytes(logo) if logo is not None else None,
            logo_type=row.logo_type,
            updated_at=row.updated_at,
        )

    def save_brand(self, brand: Brand) -> None:
        """Store the brand, replacing the environment's earlier one (one transaction)."""
        self.c.execute(delete(t).where(t.c.environment_id == brand.environment_id))
        self.c.execute(
            insert(t).values(
                environment_id=brand.environment_id,
                color=brand.color,
                logo=brand.logo,
                logo_type=brand.logo_type,
                updated_at=brand.updated_at,
            )
        )
