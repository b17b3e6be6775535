"""Password-reset requests on SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection, Row

from koppel.server.adapters.db.tables import core
from koppel.server.adapters.db.tables.password_resets import password_resets as t
from koppel.server.domain.portal.password_reset import PasswordReset

_FIELDS = tuple(f.name for f in fields(PasswordReset) if f.name != "id")


def _reset(row: Row[Any]) -> PasswordReset:
    return PasswordReset(**{f: getattr(row, f) for f in _FIELDS}, id=row.id)


class SqlResetRepository:
    """Implements ``koppel.server.domain.portal.password_reset.ResetRepository``."""

    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def add(self, reset: PasswordReset) -> PasswordReset:
        values = {f: getattr(reset, f) for f in _FIELDS}
        key = self.c.execute(insert(t).values(**values)).inserted_primary_key
        reset.id = int(key[0]) if key else 0
        return reset

    def get(self, reset_id: int) -> PasswordReset | None:
        row = self.c.execute(select(t).where(t.c.id == reset_id)).first()
        return _reset(row) if row else None

    def by_public_id(self, public_id: str) -> PasswordReset | None:
        row = self.c.execute(select(t).where(t.c.public_id == public_id)).first()
        return _reset(row) if row else None

    def save(self, reset: PasswordReset) -> None:
        values = {f: getattr(reset, f) for f in _FIELDS}
        self.c.execute(update(t).where(t.c.id == reset.id).values(**values))

    def count_since(self, *, account_id: int | None = None, address: str | None = None,
                    since: datetime) -> int:  # fmt: skip
        query = select(func.count()).select_from(t).where(t.c.requested_at >= since)
        if account_id is not None:
            query = query.where(t.c.account_id == account_id)
        if address is not None:
            query = query.where(t.c.address == address)
        return int(self.c.execute(query).scalar_one())

    def supersede_open(self, account_id: int, at: datetime, keep: int | None = None) -> int:
        query = update(t).where(
            t.c.account_id == account_id, t.c.used_at.is_(None), t.c.superseded_at.is_(None)
        )
        if keep is not None:
            query = query.where(t.c.id != keep)
        return int(self.c.execute(query.values(superseded_at=at)).rowcount)

    def account_ids_with_email(self, email: str) -> Sequence[int]:
        accounts = core.accounts
        query = select(accounts.c.id).where(func.lower(accounts.c.email) == email.lower())
        return [int(r.id) for r in self.c.execute(query)]

    def delete_before(self, at: datetime) -> int:
        return int(self.c.execute(delete(t).where(t.c.requested_at < at)).rowcount)
