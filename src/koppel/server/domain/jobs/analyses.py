"""Analyses: a user asks, a job makes the file, it arrives in the user's My files.

An analysis shows its requester only what that user may see (``dossier.may_see``), as
things are when the job runs: the rows of every kind are read for a ``Reader``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from koppel.i18n import current_language, current_time_zone, local_time
from koppel.i18n import gettext as _
from koppel.protocol.errors import ErrorCode
from koppel.server.domain import my_files as ob
from koppel.server.domain.dossier.model import DossierRepository
from koppel.server.domain.errors import DomainError
from koppel.server.domain.events import EventRepository
from koppel.server.domain.jobs.model import Job, JobRepository

DOSSIER_OVERVIEW = "dossier-overview"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
KINDS = (DOSSIER_OVERVIEW,)


@dataclass(frozen=True)
class Reader:
    """Whose analysis it is: the owner of its output file, who asked for it."""

    environment_id: int
    membership_id: int


@dataclass(frozen=True)
class Stored:
    """Content written to the blob store."""

    blob_key: str
    size: int
    sha256: str


def request(
    my_files: ob.MyFilesRepository,
    jobs: JobRepository,
    dossier: DossierRepository,
    at: datetime,
    environment_id: int,
    environment_code: str,
    membership_id: int,
    kind: str,
    destination: str | None,
) -> ob.OutputFile:
    """Queue an analysis; its output file is pending until the job finishes. An analysis
    of one destination needs that destination to exist (else ``not_found``)."""
    if kind not in KINDS:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            _("Unknown analysis {kind!r}; available: {kinds}.").format(
                kind=kind, kinds=", ".join(KINDS)
            ),
        )
    if destination is not None and dossier.destination(environment_id, destination) is None:
        raise DomainError(
            ErrorCode.NOT_FOUND,
            _("Environment {environment_code} has no destination {destination!r}.").format(
                environment_code=environment_code, destination=destination
            ),
            environment=environment_code,
        )
    # Named, written and timed for whoever asks: the request's language and time zone
    # go with the job (the worker does not know who will read the file).
    stamp = local_time(at).strftime("%Y%m%d-%H%M%S")
    suffix = f"-{destination}" if destination else ""
    # Translators: the start of a file name: letters, digits and hyphens only.
    stem = _("dossier-overview")
    file = my_files.add(
        ob.OutputFile(
            environment_id,
            membership_id,
            ob.check_name(f"{stem}-{environment_code}{suffix}-{stamp}.xlsx"),
            XLSX,
            ob.PENDING,
            "job",
            at,
        )
    )
    jobs.enqueue(
        kind,
        {
            "file_id": file.id,
            "environment_id": environment_id,
            "destination": destination,
            "language": current_language(),
            "time_zone": current_time_zone(),
        },
        at,
    )
    return file


def prepare(
    job: Job,
    my_files: ob.MyFilesRepository,
    rows: Callable[[Reader, str | None], Sequence[Any]],
) -> tuple[ob.OutputFile, Sequence[Any]]:
    """The output file of an analysis job and its rows. ``rows`` gets the file's owner
    (who asked): the rows are what that user may see now."""
    file = my_files.get(int(job.payload["file_id"]))
    if file is None:
        raise DomainError(
            ErrorCode.NOT_FOUND, _("The output file of job {id} is gone.").format(id=job.id)
        )
    reader = Reader(file.environment_id, file.membership_id)
    return file, rows(reader, job.payload.get("destination"))


def complete(
    my_files: ob.MyFilesRepository,
    events: EventRepository,
    file_id: int,
    stored: Stored,
    at: datetime,
) -> ob.OutputFile:
    """The analysis's file is made: it becomes ready, and its owner hears. Call it in the
    unit of work that finishes the job's claim, so only one claim's result is kept."""
    file = my_files.get(file_id)
    if file is None:
        raise DomainError(
            ErrorCode.NOT_FOUND, _("Output file {file_id} is gone.").format(file_id=file_id)
        )
    file.state = ob.READY
    file.size = stored.size
    file.sha256 = stored.sha256
    file.blob_key = stored.blob_key
    file.ready_at = at
    my_files.save(file)
    ob.announce(events, file, at)
    return file


def fail(
    my_files: ob.MyFilesRepository,
    events: EventRepository,
    file: ob.OutputFile,
    at: datetime,
    reason: str,
) -> ob.OutputFile:
    """Mark an analysis's file failed, with the reason its owner sees."""
    file.state = ob.FAILED
    file.error = reason[:1000]
    my_files.save(file)
    ob.announce(events, file, at)
    return file
