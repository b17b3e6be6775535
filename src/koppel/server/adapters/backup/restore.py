"""``koppel-admin restore``: a backup folder into an empty data folder.

Everything is checked before anything is put in place: the backup's files, every
content against the manifest's SHA-256 (while it is copied into a folder of its own
inside the data folder), every content the database names present, and the secret key
that opens the database's secrets. Only then are the contents and, last, the database
moved into place; a refusal on the way leaves the data folder as it was."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.exc import DatabaseError
from sqlalchemy.pool import NullPool

from koppel.protocol.counts import counted
from koppel.server.adapters.backup import manifest
from koppel.server.adapters.backup.errors import BackupRefused
from koppel.server.adapters.backup.folders import MARKER, fsync_path
from koppel.server.adapters.backup.manifest import Blob, Progress
from koppel.server.adapters.backup.snapshot import (
    BLOB_FOLDER,
    DATABASE_FILE,
    file_sha256,
    read_info,
)
from koppel.server.adapters.blobs import LocalBlobStore
from koppel.server.adapters.db import sealed
from koppel.server.adapters.db.database import sqlite_files
from koppel.server.adapters.private_files import make_dir
from koppel.server.adapters.secret_key import FILE_NAME, VARIABLE, KeySource, parse_keys

_STAGING = ".koppel-restore"


@dataclass
class RestoreReport:
    """What a restore put in place."""

    data_dir: Path
    revision: str | None
    blobs: int
    bytes: int
    counts: dict[str, int]
    secret_key: str  # where the key that opens the database comes from
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` summary."""
        return {
            "data_dir": str(self.data_dir),
            "revision": self.revision,
            "blobs": self.blobs,
            "bytes": self.bytes,
            "counts": self.counts,
            "secret_key": self.secret_key,
            "notes": self.notes,
        }


def _refuse_used(data_dir: Path) -> None:
    database = data_dir / DATABASE_FILE
    blobs = data_dir / "blobs" / "blobs"
    used = [p for p in sqlite_files(database) if p.exists()]
    if blobs.is_dir() and any(blobs.iterdir()):
        used.append(blobs)
    if used:
        raise BackupRefused(
            f"the data folder {data_dir} already holds a database or file contents "
            f"({', '.join(p.name for p in used)}); a restore never mixes two hosts' data. "
            f"Stop the server, move the folder away (mv {data_dir} {data_dir}.before-restore; "
            "keep its secret.key if the backup needs it) and run the restore again.",
            "data_folder_in_use",
        )


def _manifest(source: Path) -> list[Blob]:
    path = source / manifest.MANIFEST
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupRefused(
            f"cannot read {path} ({exc}); the backup is incomplete or damaged.",
            "backup_damaged",
        ) from exc
    return manifest.parse(document, str(path))


def _keys_for(source: Path, key_source: KeySource, wanted: set[str]) -> str:
    """Check that the database's secrets can be opened; install the backup's key file
    when the target has none. Where the key comes from, for the report."""
    held = key_source.read() or []
    if wanted <= {k.id for k in held}:
        return key_source.describe() if wanted else "none needed (no encrypted secrets)"
    bundled_file = source / FILE_NAME
    bundled = (
        parse_keys(bundled_file.read_text("utf-8"), str(bundled_file))
        if (bundled_file.is_file())
        else []
    )
    if held or key_source.from_variable or not wanted <= {k.id for k in bundled}:
        ids = ", ".join(sorted(wanted - {k.id for k in held}))
        raise BackupRefused(
            f"the backup's secrets are encrypted with key {ids}, which "
            + (
                f"{key_source.describe()} does not hold"
                if held or key_source.from_variable
                else f"is not here ({key_source.file} does not exist)"
            )
            + ", and the backup does not include it "
            f"(a backup holds the key only when made with --include-secret-key). Put the "
            f"key file of the backed-up server at {key_source.file} (or set {VARIABLE} to "
            "its key) and run the restore again. Nothing was restored.",
            "secret_key_unavailable",
            missing=True,
        )
    return f"the backup's key file, now {key_source.file}"


def restore_backup(
    source: Path,
    data_dir: Path,
    key_source: KeySource,
    *,
    progress: Progress | None = None,
) -> RestoreReport:
    """Restore the backup folder ``source`` into ``data_dir`` (embedded database)."""
    info = read_info(source)
    if info.get("database") != "sqlite" or not (source / DATABASE_FILE).is_file():
        raise BackupRefused(
            f"{source} holds no database: it was made on PostgreSQL. Restore the database "
            "with pg_restore (docs/operations.md, 'Backups and restore'), then copy the "
            f"contents: cp -a {source}/blobs/. <data dir>/blobs/blobs/ and check them with "
            f"(cd {source} && sha256sum -c --quiet blobs.sha256).",
            "no_database_in_backup",
        )
    _refuse_used(data_dir)
    wanted = _manifest(source)
    make_dir(data_dir)
    staging = data_dir / _STAGING
    shutil.rmtree(staging, ignore_errors=True)  # what a killed earlier restore left
    make_dir(staging)
    (staging / MARKER).touch()
    try:
        report = _stage_database(source, staging, wanted, info.get("database_sha256"))
        report.data_dir = data_dir
        # The key before the contents: a missing key is said before copying gigabytes.
        report.secret_key = _keys_for(source, key_source, _needed_keys(staging))
        _stage_blobs(source, staging, wanted, progress, report)
        report.revision = info.get("revision")
        bundled = source / FILE_NAME
        if bundled.is_file() and not key_source.from_variable and not key_source.read():
            # The target has no key at all: the backup's becomes its key file.
            key_source.write(parse_keys(bundled.read_text("utf-8"), str(bundled)))
            report.notes.append(f"the backup's secret key was written to {key_source.file}")
        _move_in(staging, data_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report


def _needed_keys(staging: Path) -> set[str]:
    """The ids of the keys the staged database's secrets need."""
    engine = create_engine(f"sqlite:///{staging / DATABASE_FILE}", poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return set(sealed.census(connection).by_key)
    finally:
        engine.dispose()


def _stage_database(
    source: Path, staging: Path, wanted: list[Blob], expected: str | None
) -> RestoreReport:
    """Copy the database into ``staging``; refused when it differs from the SHA-256 the
    backup recorded (backups from before that record: when SQLite cannot read it) or
    names a content the manifest does not list."""
    shutil.copyfile(source / DATABASE_FILE, staging / DATABASE_FILE)
    os.chmod(staging / DATABASE_FILE, 0o600)
    if expected and file_sha256(staging / DATABASE_FILE) != expected:
        raise BackupRefused(
            f"the database in {source} ({DATABASE_FILE}) differs from the one the backup "
            "wrote (its SHA-256 does not match backup.json): the backup is damaged. "
            "Nothing was restored; restore another backup.",
            "backup_damaged",
        )
    engine = create_engine(f"sqlite:///{staging / DATABASE_FILE}", poolclass=NullPool)
    try:
        with engine.connect() as connection:
            named = manifest.referenced(connection)
            counts = manifest.counts(connection)
    except DatabaseError as exc:
        raise BackupRefused(
            f"the database in {source} ({DATABASE_FILE}) cannot be read ({exc.orig}): the "
            "backup is damaged. Nothing was restored; restore another backup.",
            "backup_damaged",
        ) from exc
    finally:
        engine.dispose()
    listed = {b.key for b in wanted}
    absent = [b.key for b in named if b.key not in listed]
    if absent:
        raise BackupRefused(
            f"the backup's database names {counted(len(absent), 'file content')} its "
            f"manifest does not list (first: {absent[0]}); the backup is incomplete. "
            "Nothing was restored.",
            "backup_damaged",
        )
    return RestoreReport(Path(), None, len(wanted), 0, counts, "")


def _stage_blobs(
    source: Path,
    staging: Path,
    wanted: list[Blob],
    progress: Progress | None,
    report: RestoreReport,
) -> None:
    """Copy every content into ``staging``, each checked against the manifest as it
    is copied; refused at the first that differs."""
    store = LocalBlobStore(staging / "blobs")
    done_bytes = 0
    for number, blob in enumerate(wanted, start=1):
        path = source / BLOB_FOLDER / blob.key
        if not path.is_file():
            raise BackupRefused(
                f"the content {blob.key} listed in the manifest is missing from "
                f"{source / BLOB_FOLDER}; the backup is incomplete. Nothing was restored.",
                "backup_damaged",
            )
        partial = f"restore-{number}"
        digest = hashlib.sha256()

        def checked(chunks: Iterator[bytes], digest: Any = digest) -> Iterator[bytes]:
            for chunk in chunks:
                digest.update(chunk)
                yield chunk

        size = store.append(partial, checked(manifest.read_file(path)))
        found = Blob(blob.key, size, digest.hexdigest())
        if (found.size, found.sha256) != (blob.size, blob.sha256):
            raise BackupRefused(
                f"the content {blob.key} in the backup differs from its manifest entry "
                f"(SHA-256 {found.sha256[:12]}… instead of {blob.sha256[:12]}…, {found.size:,} "
                f"bytes instead of {blob.size:,}): the backup was altered or damaged. Nothing "
                "was restored; use another backup.",
                "backup_damaged",
            )
        store.commit(partial, blob.key)
        done_bytes += blob.size
        if progress is not None:
            progress(number, len(wanted), done_bytes)
    report.bytes = done_bytes


def _move_in(staging: Path, data_dir: Path) -> None:
    """The checked contents, then the key file, then the database (the last step: a
    data folder without a database is still an empty one)."""
    make_dir(data_dir / "blobs")
    blobs = data_dir / "blobs" / "blobs"
    if blobs.is_dir():
        blobs.rmdir()  # empty: checked by _refuse_used
    os.rename(staging / "blobs" / "blobs", blobs)
    make_dir(data_dir / "blobs" / "partial")
    fsync_path(data_dir / "blobs")
    os.rename(staging / DATABASE_FILE, data_dir / DATABASE_FILE)
    fsync_path(data_dir)
