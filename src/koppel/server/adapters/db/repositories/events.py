"""Events and event sessions on SQLAlchemy Core."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, text
from sqlalchemy.engine import Connection, Row

from koppel.server.adapters.db.notifications import notify
from koppel.server.adapters.db.tables import my_files as t
from koppel.server.domain.events import Event, EventHead, Scope, StreamSession

# The advisory lock key of event writers on PostgreSQL ("KOPPEL_E" in ASCII, shortened).
_EVENTS_LOCK = 0x4B4F5050454C45


def _event(row: Row[Any]) -> Event:
    return Event(
        id=row.id,
        environment_id=row.environment_id,
        membership_id=row.membership_id,
        kind=row.kind,
        payload=dict(row.payload),
        created_at=row.created_at,
    )


class SqlEventRepository:
    """The domain's EventRepository within one connection's transaction."""

    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def add(
        self,
        environment_id: int,
        membership_id: int | None,
        kind: str,
        payload: dict[str, Any],
        at: datetime,
    ) -> int:
        """Record an event; its id."""
        if self.c.dialect.name == "postgresql":
            # Ids come from a sequence, so two transactions could commit them out of order
            # and a stream that already passed the higher id would miss the lower one.
            # Serialising event writers until commit makes commit order = id order.
            self.c.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _EVENTS_LOCK})
        result = self.c.execute(
            insert(t.events).values(
                environment_id=environment_id,
                membership_id=membership_id,
                kind=kind,
                payload=payload,
                created_at=at,
            )
        )
        notify(self.c, "events")  # other replicas' streams wake when this commits
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def after(self, event_id: int, scope: Scope, limit: int = 500) -> list[Event]:
        """Events after ``event_id`` in ``scope``, oldest first."""
        e = t.events
        # Scopes hold at most a few thousand ids: well within every database's limits.
        query = (
            select(e)
            .where(
                e.c.id > event_id,
                or_(
                    e.c.membership_id.in_(scope.membership_ids),
                    and_(
                        e.c.membership_id.is_(None),
                        e.c.environment_id.in_(scope.environment_ids),
                    ),
                ),
            )
            .order_by(e.c.id)
            .limit(limit)
        )
        return [_event(row) for row in self.c.execute(query)]

    def heads(self, after: int, upto: int) -> list[EventHead]:
        """Whom each event after ``after`` up to ``upto`` concerns, oldest first."""
        e = t.events
        query = (
            select(e.c.id, e.c.environment_id, e.c.membership_id)
            .where(e.c.id > after, e.c.id <= upto)
            .order_by(e.c.id)
        )
        return [
            EventHead(row.id, row.environment_id, row.membership_id)
            for row in self.c.execute(query)
        ]

    def last_id(self) -> int:
        """The newest event's id (0 when there is none)."""
        return int(self.c.execute(select(func.max(t.events.c.id))).scalar() or 0)

    def add_session(self, session: StreamSession) -> None:
        """Store a new event session."""
        self.c.execute(
            insert(t.event_sessions).values(
                public_id=session.public_id,
                secret_hash=session.secret_hash,
                workstation_id=session.workstation_id,
                scope={
                    "memberships": list(session.scope.membership_ids),
                    "environments": {str(k): v for k, v in session.environment_codes.items()},
                    "tokens": list(session.token_ids),
                },
                created_at=session.created_at,
                expires_at=session.expires_at,
            )
        )

    def session(self, public_id: str) -> StreamSession | None:
        """An event session by its public id."""
        s = t.event_sessions
        row = self.c.execute(select(s).where(s.c.public_id == public_id)).first()
        if row is None:
            return None
        codes = {int(k): str(v) for k, v in row.scope["environments"].items()}
        return StreamSession(
            public_id=row.public_id,
            secret_hash=row.secret_hash,
            workstation_id=row.workstation_id,
            scope=Scope(tuple(row.scope["memberships"]), tuple(sorted(codes))),
            environment_codes=codes,
            token_ids=tuple(row.scope.get("tokens", ())),
            created_at=row.created_at,
            expires_at=row.expires_at,
        )

    def delete_before(self, events_before: datetime, sessions_expired_by: datetime) -> int:
        """See ``EventRepository.delete_before``."""
        newest = self.last_id()
        old = and_(t.events.c.created_at < events_before, t.events.c.id < newest)
        gone = self.c.execute(delete(t.events).where(old)).rowcount or 0
        s = t.event_sessions
        gone += self.c.execute(delete(s).where(s.c.expires_at <= sessions_expired_by)).rowcount or 0
        return int(gone)

    def session_count(self) -> int:
        """How many event sessions are stored (expired ones are purged by housekeeping)."""
        return int(self.c.execute(select(func.count()).select_from(t.event_sessions)).scalar_one())
