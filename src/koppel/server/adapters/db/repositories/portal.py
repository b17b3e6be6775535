"""The portal's sessions, failed sign-ins and second factors on SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.engine import Connection, Row

from koppel.server.adapters.db import sealed
from koppel.server.adapters.db.tables import portal as t
from koppel.server.domain.portal.model import RecoveryCode, SecondFactor, WebSession

# ``csrf_token`` is derived from the cookie's secret, never stored.
_SESSION_FIELDS = (
    "public_id", "secret_hash", "account_id", "portal_environment_id",
    "second_factor_done", "created_at", "last_seen_at", "expires_at",
)  # fmt: skip


def _session(row: Row[Any]) -> WebSession:
    return WebSession(**{f: getattr(row, f) for f in _SESSION_FIELDS}, id=row.id)


def _factor(connection: Connection, row: Row[Any]) -> SecondFactor:
    # The secret is stored encrypted with the server's secret key (adapters/db/sealed.py).
    secret = sealed.open_text(connection, row.secret, sealed.totp_purpose(row.account_id))
    return SecondFactor(row.account_id, secret, row.confirmed_at, row.last_step, row.id)


class SqlWebRepository:
    """Implements ``koppel.server.domain.portal.model.WebRepository``."""

    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def add_session(self, session: WebSession) -> WebSession:
        values = {f: getattr(session, f) for f in _SESSION_FIELDS}
        key = self.c.execute(insert(t.web_sessions).values(**values)).inserted_primary_key
        session.id = int(key[0]) if key else 0
        return session

    def session(self, public_id: str) -> WebSession | None:
        query = select(t.web_sessions).where(t.web_sessions.c.public_id == public_id)
        row = self.c.execute(query).first()
        return _session(row) if row else None

    def save_session(self, session: WebSession) -> None:
        values = {f: getattr(session, f) for f in _SESSION_FIELDS}
        self.c.execute(
            update(t.web_sessions).where(t.web_sessions.c.id == session.id).values(**values)
        )

    def delete_session(self, session_id: int) -> None:
        self.c.execute(delete(t.web_sessions).where(t.web_sessions.c.id == session_id))

    def delete_sessions_of(self, account_id: int, keep: int | None = None) -> int:
        query = delete(t.web_sessions).where(t.web_sessions.c.account_id == account_id)
        if keep is not None:
            query = query.where(t.web_sessions.c.id != keep)
        return int(self.c.execute(query).rowcount or 0)

    def delete_sessions_before(self, *, expired: datetime, idle: datetime) -> int:
        table = t.web_sessions
        query = delete(table).where(
            or_(table.c.expires_at <= expired, table.c.last_seen_at <= idle)
        )
        return int(self.c.execute(query).rowcount or 0)

    def delete_failures_before(self, at: datetime) -> int:
        table = t.sign_in_failures
        return int(self.c.execute(delete(table).where(table.c.at < at)).rowcount or 0)

    def add_failure(self, login: str, address: str, at: datetime) -> None:
        self.c.execute(insert(t.sign_in_failures).values(login=login, address=address, at=at))

    def failures(
        self, *, login: str | None = None, address: str | None = None, since: datetime
    ) -> list[datetime]:
        table = t.sign_in_failures
        query = select(table.c.at).where(table.c.at >= since)
        if login is not None:
            query = query.where(table.c.login == login)
        if address is not None:
            query = query.where(table.c.address == address)
        return [row.at for row in self.c.execute(query.order_by(table.c.at))]

    def clear_failures(self, login: str) -> None:
        self.c.execute(delete(t.sign_in_failures).where(t.sign_in_failures.c.login == login))

    def second_factor(self, account_id: int) -> SecondFactor | None:
        query = select(t.second_factors).where(t.second_factors.c.account_id == account_id)
        row = self.c.execute(query).first()
        return _factor(self.c, row) if row else None

    def save_second_factor(self, factor: SecondFactor) -> SecondFactor:
        values = {
            "account_id": factor.account_id,
            "secret": sealed.seal_text(
                self.c, factor.secret, sealed.totp_purpose(factor.account_id)
            ),
            "confirmed_at": factor.confirmed_at,
            "last_step": factor.last_step,
        }
        if factor.id:
            table = t.second_factors
            self.c.execute(update(table).where(table.c.id == factor.id).values(**values))
        else:
            key = self.c.execute(insert(t.second_factors).values(**values)).inserted_primary_key
            factor.id = int(key[0]) if key else 0
        return factor

    def delete_second_factor(self, account_id: int) -> None:
        self.c.execute(delete(t.recovery_codes).where(t.recovery_codes.c.account_id == account_id))
        self.c.execute(delete(t.second_factors).where(t.second_factors.c.account_id == account_id))

    def recovery_codes(self, account_id: int) -> list[RecoveryCode]:
        table = t.recovery_codes
        rows = self.c.execute(
            select(table).where(table.c.account_id == account_id).order_by(table.c.id)
        )
        return [RecoveryCode(r.account_id, r.code_hash, r.used_at, r.id) for r in rows]

    def replace_recovery_codes(self, account_id: int, hashes: Sequence[str]) -> None:
        table = t.recovery_codes
        self.c.execute(delete(table).where(table.c.account_id == account_id))
        if hashes:
            self.c.execute(
                insert(table), [{"account_id": account_id, "code_hash": h} for h in hashes]
            )

    def use_recovery_code(self, code_id: int, at: datetime) -> None:
        table = t.recovery_codes
        self.c.execute(update(table).where(table.c.id == code_id).values(used_at=at))
