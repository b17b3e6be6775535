"""Background jobs: queued by requests, claimed by exactly one worker, done or failed.

A claim is a *lease*: the worker holds the job until ``lease_expires_at`` and renews the
lease while it runs. A job whose lease lapsed lost its worker (a crash, a killed
replica): any worker claims it again. Every claim gets a new ``lease_token``; renewing
or finishing names it, so a worker that lost its lease (it was only slow, or came back)
changes nothing: its late result is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

JobState = Literal["queued", "running", "done", "failed"]
# A job that failed this many times is not tried again; nor is one whose worker
# stopped during this many attempts (claimed again after its lease lapsed).
MAX_ATTEMPTS = 3


@dataclass
class Job:
    """One unit of background work."""

    kind: str
    payload: dict[str, Any]
    state: JobState
    created_at: datetime
    attempts: int = 0
    claimed_by: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    lease_token: str | None = None
    lease_expires_at: datetime | None = None
    id: int = 0


class JobRepository(Protocol):
    """Storage of jobs."""

    def enqueue(self, kind: str, payload: dict[str, Any], at: datetime) -> int:
        """Queue a job; its id."""
        ...

    def claim(self, worker: str, at: datetime, lease: timedelta) -> Job | None:
        """Take the oldest queued job, or a running one whose lease lapsed, for ``worker``
        until ``at + lease`` under a new lease token (never a job another worker holds)."""
        ...

    def renew(self, job: Job, until: datetime) -> bool:
        """Extend this claim's lease; False when the job is no longer this claim's."""
        ...

    def finish(self, job: Job, state: JobState, at: datetime, error: str | None) -> bool:
        """Record the end of this claim ("queued" again to retry); False, and nothing
        changed, when the job is no longer this claim's (another worker took it over)."""
        ...

    def get(self, job_id: int) -> Job | None:
        """A job by id."""
        ...

    def backlog(self) -> tuple[int, datetime | None]:
        """How many jobs wait for a worker, and when the oldest of them was queued."""
        ...
