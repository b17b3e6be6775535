"""Device authorizations and integration keys on SQLAlchemy Core."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.engine import Connection, Row

from koppel.server.adapters.db.tables import credentials as t
from koppel.server.domain.integrations import IntegrationKey
from koppel.server.domain.portal.device_approval import DeviceGrant

_GRANT_FIELDS = tuple(f.name for f in fields(DeviceGrant) if f.name != "id")
_KEY_FIELDS = tuple(f.name for f in fields(IntegrationKey) if f.name != "id")


def _grant(row: Row[Any]) -> DeviceGrant:
    return DeviceGrant(**{f: getattr(row, f) for f in _GRANT_FIELDS}, id=row.id)


def _key(row: Row[Any]) -> IntegrationKey:
    return IntegrationKey(**{f: getattr(row, f) for f in _KEY_FIELDS}, id=row.id)


class SqlDeviceGrantRepository:
    """Implements ``koppel.server.domain.portal.device_approval.DeviceGrantRepository``."""

    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def add_grant(self, grant: DeviceGrant) -> DeviceGrant:
        values = {f: getattr(grant, f) for f in _GRANT_FIELDS}
        key = self.c.execute(insert(t.device_grants).values(**values)).inserted_primary_key
        grant.id = int(key[0]) if key else 0
        return grant

    def _one(self, column: Any, value: str) -> DeviceGrant | None:
        row = self.c.execute(select(t.device_grants).where(column == value)).first()
        return _grant(row) if row else None

    def grant_by_device_code(self, device_code_hash: str) -> DeviceGrant | None:
        return self._one(t.device_grants.c.device_code_hash, device_code_hash)

    def grant_by_user_code(self, user_code_hash: str) -> DeviceGrant | None:
        return self._one(t.device_grants.c.user_code_hash, user_code_hash)

    def grant_by_access(self, public_id: str) -> DeviceGrant | None:
        return self._one(t.device_grants.c.access_public_id, public_id)

    def save_grant(self, grant: DeviceGrant) -> None:
        values = {f: getattr(grant, f) for f in _GRANT_FIELDS}
        self.c.execute(
            update(t.device_grants).where(t.device_grants.c.id == grant.id).values(**values)
        )

    def pending_grants_from(self, address: str, since: datetime) -> int:
        table = t.device_grants
        query = (
            select(func.count())
            .select_from(table)
            .where(
                and_(
                    table.c.address == address,
                    table.c.created_at >= since,
                    table.c.state == "pending",
                )
            )
        )
        return int(self.c.execute(query).scalar_one())

    def delete_grants_before(self, at: datetime) -> int:
        query = delete(t.device_grants).where(t.device_grants.c.expires_at < at)
        return int(self.c.execute(query).rowcount or 0)


class SqlIntegrationKeyRepository:
    """Implements ``koppel.server.domain.integrations.IntegrationKeyRepository``."""

    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def add_key(self, key: IntegrationKey) -> IntegrationKey:
        values = {f: getattr(key, f) for f in _KEY_FIELDS}
        found = self.c.execute(insert(t.integration_keys).values(**values)).inserted_primary_key
        key.id = int(found[0]) if found else 0
        return key

    def key_by_public_id(self, public_id: str) -> IntegrationKey | None:
        query = select(t.integration_keys).where(t.integration_keys.c.public_id == public_id)
        row = self.c.execute(query).first()
        return _key(row) if row else None

    def keys_of(self, environment_id: int) -> list[IntegrationKey]:
        table = t.integration_keys
        query = select(table).where(table.c.environment_id == environment_id).order_by(table.c.id)
        return [_key(row) for row in self.c.execute(query)]

    def save_key(self, key: IntegrationKey) -> None:
        values = {f: getattr(key, f) for f in _KEY_FIELDS}
        self.c.execute(
            update(t.integration_keys).where(t.integration_keys.c.id == key.id).values(**values)
        )
