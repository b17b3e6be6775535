"""Background jobs on SQLAlchemy Core, claimed under leases (see ``domain/jobs.py``)."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.sql import ColumnElement

from koppel.server.adapters.db.notifications import notify
from koppel.server.adapters.db.tables import my_files as t
from koppel.server.domain.jobs.model import Job, JobState

# Jobs claimed by a release before leases (migration 0007) have no lease; they keep that
# release's rule, so a replica still running it during an upgrade keeps its jobs.
UNLEASED_STALE_AFTER = timedelta(minutes=15)


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
        lease_token=row.lease_token,
        lease_expires_at=row.lease_expires_at,
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
        notify(self.c, "jobs")  # idle workers of every process wake when this commits
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def claim(self, worker: str, at: datetime, lease: timedelta) -> Job | None:
        """Take the oldest queued job, or a running one whose lease lapsed. On PostgreSQL
        rows locked by another worker are skipped (FOR UPDATE SKIP LOCKED); SQLite's
        BEGIN IMMEDIATE (see database.py) already lets only one transaction at a time
        get here."""
        lapsed = and_(
            t.jobs.c.state == "running",
            or_(
                t.jobs.c.lease_expires_at < at,
                and_(
                    t.jobs.c.lease_expires_at.is_(None),
                    t.jobs.c.started_at < at - UNLEASED_STALE_AFTER,
                ),
            ),
        )
        query = (
            select(t.jobs)
            .where(or_(t.jobs.c.state == "queued", lapsed))
            .order_by(t.jobs.c.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        row = self.c.execute(query).first()
        if row is None:
            return None
        token = secrets.token_hex(16)
        expires = at + lease
        self.c.execute(
            update(t.jobs)
            .where(t.jobs.c.id == row.id)
            .values(
                state="running",
                attempts=t.jobs.c.attempts + 1,
                claimed_by=worker,
                started_at=at,
                lease_token=token,
                lease_expires_at=expires,
            )
        )
        job = _job(row)
        job.state, job.attempts, job.claimed_by, job.started_at = (
            "running",
            job.attempts + 1,
            worker,
            at,
        )
        job.lease_token, job.lease_expires_at = token, expires
        return job

    def _held(self, job: Job) -> ColumnElement[bool]:
        """This claim of the job, still running (the fence of renew and finish)."""
        return and_(
            t.jobs.c.id == job.id,
            t.jobs.c.state == "running",
            t.jobs.c.lease_token == job.lease_token,
        )

    def renew(self, job: Job, until: datetime) -> bool:
        """Extend the lease; False when another worker took the job over."""
        result = self.c.execute(
            update(t.jobs).where(self._held(job)).values(lease_expires_at=until)
        )
        if result.rowcount != 1:
            return False
        job.lease_expires_at = until
        return True

    def finish(self, job: Job, state: JobState, at: datetime, error: str | None) -> bool:
        """Record the end of this claim; False (nothing changed) when it is not the
        job's current claim any more."""
        result = self.c.execute(
            update(t.jobs)
            .where(self._held(job))
            .values(state=state, finished_at=at, error=error, lease_expires_at=None)
        )
        return result.rowcount == 1

    def get(self, job_id: int) -> Job | None:
        """A job by id."""
        row = self.c.execute(select(t.jobs).where(t.jobs.c.id == job_id)).first()
        return _job(row) if row else None

    def backlog(self) -> tuple[int, datetime | None]:
        """How many jobs wait for a worker, and when the oldest of them was queued."""
        row = self.c.execute(
            select(func.count(), func.min(t.jobs.c.created_at)).where(t.jobs.c.state == "queued")
        ).one()
        return int(row[0]), row[1]

    def count(self, state: JobState) -> int:
        """How many jobs are in a state (for diagnostics)."""
        return int(
            self.c.execute(
                select(func.count()).select_from(t.jobs).where(t.jobs.c.state == state)
            ).scalar_one()
        )
