"""Background jobs on SQLAlchemy Core."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Row

from koppel.server.adapters.db import tables_outbox as t
from koppel.server.domain.jobs import Job, JobState

STALE_AFTER = timedelta(minutes=15)


def _job(row: Row[Any]) -> Job:
    return Job(
        kind=row.kind,
        payload=dict(row.payload),
        state=row.state,
        created_at=row.created_at,
        attempts=row.attempts,
        claimed_by=row.claimed_by,
        started_at=row.started_at,
        finished_at=row.finished_at,
        error=row.error,
        id=row.id,
    )


class SqlJobRepository:
    """The domain's JobRepository within one connection's transaction."""

    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def enqueue(self, kind: str, payload: dict[str, Any], at: datetime) -> int:
        """Queue a job; its id."""
        result = self.c.execute(
            insert(t.jobs).values(
                kind=kind, payload=payload, state="queued", attempts=0, created_at=at
            )
        )
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def claim(self, worker: str, at: datetime) -> Job | None:
        """Take the oldest queued job. On PostgreSQL rows locked by another worker are
        skipped (FOR UPDATE SKIP LOCKED); SQLite's BEGIN IMMEDIATE (see database.py)
        already lets only one transaction at a time get here."""
        # A job "running" for much longer than any job takes lost its worker (a crash or
        # a killed replica): it is taken again.
        stale = at - STALE_AFTER
        query = (
            select(t.jobs)
            .where(
                or_(
                    t.jobs.c.state == "queued",
                    and_(t.jobs.c.state == "running", t.jobs.c.started_at < stale),
                )
            )
            .order_by(t.jobs.c.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        row = self.c.execute(query).first()
        if row is None:
            return None
        self.c.execute(
            update(t.jobs)
            .where(t.jobs.c.id == row.id)
            .values(
                state="running",
                attempts=t.jobs.c.attempts + 1,
                claimed_by=worker,
                started_at=at,
            )
        )
        job = _job(row)
        job.state, job.attempts, job.claimed_by, job.started_at = (
            "running",
            job.attempts + 1,
            worker,
            at,
        )
        return job

    def finish(self, job_id: int, state: JobState, at: datetime, error: str | None) -> None:
        """Record the end of a job."""
        self.c.execute(
            update(t.jobs)
            .where(t.jobs.c.id == job_id)
            .values(state=state, finished_at=at, error=error)
        )

    def get(self, job_id: int) -> Job | None:
        """A job by id."""
        row = self.c.execute(select(t.jobs).where(t.jobs.c.id == job_id)).first()
        return _job(row) if row else None

    def count(self, state: JobState) -> int:
        """How many jobs are in a state (for diagnostics)."""
        return int(
            self.c.execute(
                select(func.count()).select_from(t.jobs).where(t.jobs.c.state == state)
            ).scalar_one()
        )
