"""The domain's ``ExtensionRepository`` on SQLAlchemy Core, on the unit of work's connection."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from koppel.server.adapters.db.tables.extensions import extension_allowlists as t


class SqlExtensionRepository:
    """The environments' own extension lists in ``extension_allowlists``."""

    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def allowed(self, environment_id: int, *, for_update: bool = False) -> frozenset[str] | None:
        """The environment's own list, or None when it uses the default."""
        query = select(t.c.extensions).where(t.c.environment_id == environment_id)
        if for_update:
            query = query.with_for_update()  # ignored by SQLite, whose writers queue anyway
        row = self.c.execute(query).first()
        return frozenset(str(e) for e in row.extensions) if row else None

    def save(self, environment_id: int, extensions: frozenset[str], at: datetime) -> None:
        """Store the environment's own list, replacing any earlier one."""
        values = {"extensions": sorted(extensions), "changed_at": at}
        done = self.c.execute(update(t).where(t.c.environment_id == environment_id).values(values))
        if done.rowcount == 0:
            self.c.execute(insert(t).values(environment_id=environment_id, **values))

    def forget(self, environment_id: int) -> bool:
        """Drop the environment's own list; False when it had none."""
        done = self.c.execute(delete(t).where(t.c.environment_id == environment_id))
        return done.rowcount > 0
