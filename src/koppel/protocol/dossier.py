"""API models of the dossier: destinations, item types, items, attachments and versions.

An agent submits files by uploading each with tus (``uploads.py``) and then creating an
item that names the finished uploads. Editing uploads a new version the same way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from koppel.protocol._model import ProtocolModel

DestinationKind = Literal["organisation", "person", "debtor", "creditor", "employee"]


class DestinationOut(ProtocolModel):
    """Whom a dossier item is about."""

    code: str
    name: str
    kind: DestinationKind


class ItemTypeOut(ProtocolModel):
    """A dossier item type and what it allows."""

    name: str
    editable: bool
    confidential: bool


class VersionOut(ProtocolModel):
    """One version of an attachment. ``etag`` is what ``If-Match`` names."""

    number: int
    name: str
    media_type: str
    size: int
    sha256: str
    etag: str
    created: datetime
    author: str
    workstation: str | None = None
    conflict_of: int | None = None  # set on a version saved aside after an edit conflict


class AttachmentOut(ProtocolModel):
    """A file of a dossier item, with its newest version."""

    id: int
    name: str
    current: VersionOut
    versions: int


class ItemOut(ProtocolModel):
    """A dossier item."""

    id: int
    environment: str
    subject: str
    type: str
    destination: DestinationOut
    author: str
    source_workstation: str | None
    created: datetime
    date: datetime | None = None  # the document's own date (e.g. an e-mail's Date)
    submission_id: str | None = None
    attachments: list[AttachmentOut] = Field(default_factory=list)


class CreateItemRequest(ProtocolModel):
    """Create an item from finished uploads. ``submission_id`` makes retries idempotent:
    the same id in the same environment returns the item created the first time."""

    submission_id: str = Field(min_length=8, max_length=64)
    subject: str = Field(min_length=1, max_length=500)
    type: str
    destination: str
    uploads: list[str] = Field(min_length=1, max_length=200)
    date: datetime | None = None


class NewVersionRequest(ProtocolModel):
    """Save an edited file as a new version of an attachment (with ``If-Match``)."""

    upload: str
    # When the If-Match check fails, keep the upload as a conflict version instead of
    # refusing (the agent asks for this after telling the user).
    keep_as_conflict: bool = False


class ItemList(ProtocolModel):
    """A page of items, newest first."""

    items: list[ItemOut]
    total: int


class UploadRules(ProtocolModel):
    """What an environment accepts on upload (``GET environments/{env}/upload-rules``):
    the agent checks every file against it before it sends any byte."""

    environment: str
    max_bytes: int = Field(description="The largest file accepted, in bytes.")
    allowed_extensions: list[str] = Field(
        description="The extensions accepted (a name's last one decides), lower case "
        'without the dot; "" stands for names without an extension.'
    )
    default: bool = Field(description="Whether this is the server's default list.")
