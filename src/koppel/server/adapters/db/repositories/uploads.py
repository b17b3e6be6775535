"""The domain's ``UploadRepository`` on SQLAlchemy Core, on the unit of work's connection."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.engine import Connection, Row

from koppel.server.adapters.db.tables.uploads import uploads as t
from koppel.server.domain.transfer.uploads import Upload


def _upload(row: Row[Any]) -> Upload:
    return Upload(
        id=row.id,
        environment_id=row.environment_id,
        membership_id=row.membership_id,
        filename=row.filename,
        media_type=row.media_type,
        declared_length=row.declared_length,
        offset=row.offset,
        created_at=row.created_at,
        expires_at=row.expires_at,
        blob_key=row.blob_key,
        completed_at=row.completed_at,
        sha256=row.sha256,
        claimed_at=row.claimed_at,
    )


class SqlUploadRepository:
    """Upload records in the ``uploads`` table."""

    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def add(self, upload: Upload) -> None:
        """Record a new upload."""
        self.c.execute(
            insert(t).values(
                id=upload.id,
                environment_id=upload.environment_id,
                membership_id=upload.membership_id,
                filename=upload.filename,
                media_type=upload.media_type,
                declared_length=upload.declared_length,
                offset=upload.offset,
                created_at=upload.created_at,
                expires_at=upload.expires_at,
                completed_at=upload.completed_at,
                sha256=upload.sha256,
                blob_key=upload.blob_key,
                claimed_at=upload.claimed_at,
            )
        )

    def get(self, upload_id: str) -> Upload | None:
        """The upload, or None."""
        row = self.c.execute(select(t).where(t.c.id == upload_id)).first()
        return _upload(row) if row else None

    def set_offset(self, upload_id: str, offset: int) -> None:
        """Record how many bytes arrived."""
        self.c.execute(update(t).where(t.c.id == upload_id).values(offset=offset))

    def claim_writer(self, upload_id: str, writer: str, now: datetime, until: datetime) -> bool:
        """One conditional UPDATE: on SQLite the write lock, on PostgreSQL the row lock
        makes two replicas' claims take turns, and only one finds the row free."""
        free = or_(t.c.writer.is_(None), t.c.writer == writer, t.c.writer_until < now)
        claimed = self.c.execute(
            update(t).where(t.c.id == upload_id, free).values(writer=writer, writer_until=until)
        )
        return claimed.rowcount == 1

    def release_writer(self, upload_id: str, writer: str) -> None:
        """Clear the claim if it is still ``writer``'s."""
        self.c.execute(
            update(t)
            .where(t.c.id == upload_id, t.c.writer == writer)
            .values(writer=None, writer_until=None)
        )

    def set_completed(self, upload_id: str, sha256: str, blob_key: str, at: datetime) -> None:
        """Record a completed upload and its committed blob."""
        self.c.execute(
            update(t)
            .where(t.c.id == upload_id)
            .values(completed_at=at, sha256=sha256, blob_key=blob_key, offset=t.c.declared_length)
        )

    def mark_claimed(self, upload_id: str, at: datetime) -> bool:
        """Mark an unclaimed upload claimed; False when another transaction was first."""
        result = self.c.execute(
            update(t).where(t.c.id == upload_id, t.c.claimed_at.is_(None)).values(claimed_at=at)
        )
        return result.rowcount == 1

    def delete(self, upload_id: str) -> None:
        """Forget an upload."""
        self.c.execute(delete(t).where(t.c.id == upload_id))

    def expired(self, now: datetime, limit: int) -> list[Upload]:
        """Up to ``limit`` unclaimed uploads whose expiry has passed."""
        rows = self.c.execute(
            select(t)
            .where(t.c.expires_at <= now, t.c.claimed_at.is_(None))
            .order_by(t.c.expires_at)
            .limit(limit)
        )
        return [_upload(row) for row in rows]
