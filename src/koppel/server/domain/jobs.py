"""Background jobs: queued by requests, claimed by exactly one worker, done or failed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

JobState = Literal["queued", "running", "done", "failed"]
# A job that failed this many times is not tried again.
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
    id: int = 0


class JobRepository(Protocol):
    """Storage of jobs."""

    def enqueue(self, kind: str, payload: dict[str, Any], at: datetime) -> int:
        """Queue a job; its id."""
        ...

    def claim(self, worker: str, at: datetime) -> Job | None:
        """Take the oldest queued job for ``worker`` (never one another worker holds)."""
        ...

    def finish(self, job_id: int, state: JobState, at: datetime, error: str | None) -> None:
        """Record the end of a job."""
        ...

    def get(self, job_id: int) -> Job | None:
        """A job by id."""
        ...
