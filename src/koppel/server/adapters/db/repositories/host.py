"""The domain's ``HostSettings`` on SQLAlchemy Core, on the unit of work's connection."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from koppel.server.adapters.db.tables.core import host_settings as t


class SqlHostSettings:
    """Named values of the host in ``host_settings``."""

    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def get(self, name: str) -> str | None:
        """The value recorded under ``name``, or None."""
        row = self.c.execute(select(t.c.value).where(t.c.name == name)).first()
        return str(row.value) if row else None

    def put(self, name: str, value: str, at: datetime) -> None:
        """Record ``value`` under ``name``, replacing an earlier one."""
        values = {"value": value, "changed_at": at}
        done = self.c.execute(update(t).where(t.c.name == name).values(values))
        if done.rowcount:
            return
        try:
            with self.c.begin_nested():
                self.c.execute(insert(t).values(name=name, **values))
        except IntegrityError:  # another replica recorded it at the same moment
            self.c.execute(update(t).where(t.c.name == name).values(values))
