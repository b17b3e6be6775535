"""Models of My files (output files), analyses and their routes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from koppel.protocol._model import ProtocolModel
from koppel.protocol.api import StatusQuery

# The file name of a raw (non-multipart) integration push.
FILENAME_HEADER = "Koppel-Filename"

FileState = Literal["pending", "ready", "failed"]
FileSource = Literal["pushed", "job"]
AnalysisKind = Literal["dossier-overview"]


class OutputFileOut(ProtocolModel):
    """One file of a user's My files."""

    id: int
    environment: str
    name: str
    media_type: str
    size: int | None
    sha256: str | None
    state: FileState
    error: str | None = None
    source: FileSource
    created: datetime
    ready_at: datetime | None = None
    delivered: bool = False  # to the workstation of the asking token


class OutputFileList(ProtocolModel):
    """My files of the token's user, newest first."""

    files: list[OutputFileOut]


class AnalysisRequest(ProtocolModel):
    """Ask for an analysis; its result arrives in My files."""

    kind: AnalysisKind = "dossier-overview"
    destination: str | None = Field(default=None, max_length=64)


class AnalysisAccepted(ProtocolModel):
    """The analysis is queued; ``file_id`` is its (pending) output file."""

    file_id: int
    state: FileState


class PendingFilesRequest(ProtocolModel):
    """Ready files not yet delivered to this workstation, for many environments at once."""

    environments: list[StatusQuery] = Field(max_length=20000)
    workstation_id: str = Field(min_length=1, max_length=64)


class PendingFiles(ProtocolModel):
    """Per environment: its undelivered ready files, or why it was refused."""

    environment: str
    state: str  # "ok" or an error code
    message: str = ""
    files: list[OutputFileOut] = Field(default_factory=list)


class PendingFilesResponse(ProtocolModel):
    """Answers in the order asked."""

    environments: list[PendingFiles]
