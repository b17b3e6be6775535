"""The blob manifest: every file content the database names, with its size and SHA-256.

A backup writes it beside the copied contents; a restore checks each content against it
before anything is put in place. It is also written as ``blobs.sha256`` in the format of
``sha256sum -c`` so that a copy can be checked without Koppel."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from koppel.server.adapters.db.tables import core as t
from koppel.server.adapters.db.tables import dossier as td
from koppel.server.adapters.db.tables import my_files as tm
from koppel.server.adapters.db.tables import uploads as tu
from koppel.server.adapters.private_files import open_private

MANIFEST = "manifest.json"
SHA256SUMS = "blobs.sha256"

Progress = Callable[[int, int, int], None]  # (files done, files in all, bytes done)


@dataclass(frozen=True)
class Blob:
    """One file content: its key in the blob store, size and SHA-256 (hex)."""

    key: str
    size: int
    sha256: str

    def as_json(self) -> dict[str, Any]:
        """The manifest entry."""
        return {"key": self.key, "size": self.size, "sha256": self.sha256}


def referenced(connection: Connection, environment_id: int | None = None) -> list[Blob]:
    """Every blob the database names (of one environment when given), as the database
    recorded it, sorted by key: attachment versions, finished My files, and finished
    uploads not yet made into an item."""
    found: dict[str, Blob] = {}
    v, f, u = td.attachment_versions.c, tm.output_files.c, tu.uploads.c
    versions = (
        select(v.blob_key, v.size, v.sha256)
        .join(td.attachments, td.attachments.c.id == v.attachment_id)
        .join(td.items, td.items.c.id == td.attachments.c.item_id)
    )
    files = select(f.blob_key, f.size, f.sha256).where(f.blob_key.is_not(None))
    uploads = select(u.blob_key, u.declared_length, u.sha256).where(u.completed_at.is_not(None))
    if environment_id is not None:
        versions = versions.where(td.items.c.environment_id == environment_id)
        files = files.where(tm.output_files.c.environment_id == environment_id)
        uploads = uploads.where(tu.uploads.c.environment_id == environment_id)
    for query in (versions, files, uploads):
        for key, size, sha256 in connection.execute(query):
            found.setdefault(key, Blob(key, int(size or 0), sha256 or ""))
    return [found[key] for key in sorted(found)]


def counts(connection: Connection) -> dict[str, int]:
    """How many environments, accounts, items and file versions the database holds."""
    from sqlalchemy import func

    tables = {
        "environments": t.environments,
        "accounts": t.accounts,
        "items": td.items,
        "versions": td.attachment_versions,
        "my_files": tm.output_files,
    }
    return {
        name: int(connection.execute(select(func.count()).select_from(table)).scalar_one())
        for name, table in tables.items()
    }


def hashed(chunks: Iterable[bytes], sink: Callable[[bytes], object] | None = None) -> Blob:
    """Size and SHA-256 of a content (the key left empty), passing each chunk to
    ``sink`` on the way."""
    digest, size = hashlib.sha256(), 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
        if sink is not None:
            sink(chunk)
    return Blob("", size, digest.hexdigest())


def read_file(path: Path, chunk: int = 1024 * 1024) -> Iterator[bytes]:
    """A file's bytes in chunks."""
    with path.open("rb") as handle:
        while piece := handle.read(chunk):
            yield piece


def write(folder: Path, blobs: list[Blob]) -> None:
    """``manifest.json`` and ``blobs.sha256`` into ``folder``."""
    write_private(
        folder / MANIFEST,
        json.dumps({"format": 1, "blobs": [b.as_json() for b in blobs]}, indent=1) + "\n",
    )
    write_private(folder / SHA256SUMS, "".join(f"{b.sha256}  blobs/{b.key}\n" for b in blobs))


def write_private(path: Path, text: str) -> None:
    """Write a new text file readable by this user only (as everything of a backup)."""
    with os.fdopen(
        open_private(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), "w", encoding="utf-8"
    ) as out:
        out.write(text)


def parse(document: Any, where: str) -> list[Blob]:
    """The entries of a manifest document; a malformed one is refused."""
    from koppel.server.adapters.backup.errors import BackupRefused

    try:
        found = [
            Blob(str(e["key"]), int(e["size"]), str(e["sha256"]).lower()) for e in document["blobs"]
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise BackupRefused(
            f"{where} is not a Koppel manifest ({exc}); the backup is damaged.",
            "backup_damaged",
        ) from exc
    for blob in found:
        # Keys become paths: nothing that climbs out of the blob folder.
        parts = blob.key.split("/")
        if "\\" in blob.key or any(p in ("", ".", "..") for p in parts):
            raise BackupRefused(
                f"{where} lists an unsafe key {blob.key!r}; the backup was altered.",
                "backup_damaged",
            )
    return found
