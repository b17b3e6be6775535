"""``koppel-admin backup``: a consistent copy of the embedded database, the file
contents it names (hard links where the file system allows), their manifest and a
``backup.json`` that says what the folder holds.

The database is copied with SQLite's online backup API in one step: a read transaction
on the write-ahead log, so the server goes on writing and the copy is the database as
of one instant. The contents are then taken as that copy names them; contents are
never changed in place (a new version is a new key), so a content the copy names is
the content it had."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from koppel._version import __version__
from koppel.server.adapters.backup import manifest
from koppel.server.adapters.backup.errors import BackupRefused
from koppel.server.adapters.backup.folders import built_whole, fsync_path
from koppel.server.adapters.backup.manifest import Blob, Progress
from koppel.server.adapters.blobs import LocalBlobStore
from koppel.server.adapters.db import migrate
from koppel.server.adapters.db.database import masked, sqlite_path
from koppel.server.adapters.private_files import create_file, make_dir, open_private
from koppel.server.adapters.secret_key import FILE_NAME, KeySource
from koppel.server.domain.transfer.blobs import BlobNotFound, BlobStore

FORMAT = 1
INFO = "backup.json"
DATABASE_FILE = "koppel.sqlite3"
BLOB_FOLDER = "blobs"
KEY_NOTE = (
    "The secret key is NOT in this backup: it encrypts the secrets the database keeps "
    "(two-step verification, the settings-signing key). Keep {where} apart from this "
    "backup; a restore needs it (docs/secret-key.md)."
)
KEY_INCLUDED_NOTE = (
    "This backup holds the secret key (secret.key): whoever has the backup can read "
    "every secret of the database. Keep it as safe as the key itself."
)


@dataclass
class BackupReport:
    """What a backup wrote."""

    folder: Path
    database: str  # "sqlite" or "postgresql"
    database_included: bool
    revision: str | None
    blobs: int
    bytes: int
    linked: int  # contents hard-linked rather than copied
    counts: dict[str, int]
    secret_key_included: bool
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    pg_dump: str | None = None  # the command that backs up a PostgreSQL database

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` summary."""
        return {
            "folder": str(self.folder),
            "database": self.database,
            "database_included": self.database_included,
            "revision": self.revision,
            "blobs": self.blobs,
            "bytes": self.bytes,
            "linked": self.linked,
            "counts": self.counts,
            "secret_key_included": self.secret_key_included,
            "notes": self.notes,
            "problems": self.problems,
            "pg_dump": self.pg_dump,
        }


def pg_dump_command(url: str, dest: Path) -> str:
    """The ``pg_dump`` command that backs up the PostgreSQL database at ``url`` (without
    its password, which pg_dump takes from PGPASSWORD or ~/.pgpass)."""
    plain = masked(url).replace("+psycopg", "").replace("+psycopg2", "").replace(":***@", "@")
    return f"pg_dump --format=custom --file={dest}.pgdump '{plain}'"


def _sqlite_snapshot(source: Path, target: Path) -> None:
    """The database at ``source`` as of one instant into ``target`` (one file, no log)."""
    create_file(target)
    src = sqlite3.connect(source, timeout=30)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)  # all pages in one step: one read transaction, one instant
            dst.execute("PRAGMA journal_mode=DELETE")
            check = dst.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise BackupRefused(
                    f"the copy of the database does not check out ({check}); nothing was "
                    "kept. Run `koppel-admin backup` again; if it repeats, the database "
                    "itself is damaged.",
                    "database_damaged",
                )
        finally:
            dst.close()
    finally:
        src.close()


@contextmanager
def _connected(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            # One snapshot for every query of the manifest and the counts.
            connection.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        yield connection


def _revision(connection: Connection) -> str | None:
    row = connection.execute(text("SELECT version_num FROM alembic_version")).first()
    return str(row[0]) if row else None


def _copy_blob(blobs: BlobStore, blob: Blob, target: Path) -> tuple[Blob, bool]:
    """Copy one content to ``target`` (a hard link when the store is a local folder on
    the same file system); its size and SHA-256 as read, and whether it was linked."""
    make_dir(target.parent)
    if isinstance(blobs, LocalBlobStore):
        source = blobs.root / "blobs" / blob.key
        try:
            os.link(source, target)
            found = manifest.hashed(manifest.read_file(target))
            return Blob(blob.key, found.size, found.sha256), True
        except FileNotFoundError as exc:
            raise BlobNotFound(blob.key) from exc
        except OSError:
            pass  # another file system, or links not allowed: copy
    fd = open_private(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    with os.fdopen(fd, "wb") as out:
        found = manifest.hashed(blobs.read(blob.key), out.write)
        out.flush()
        os.fsync(out.fileno())
    return Blob(blob.key, found.size, found.sha256), False


def make_backup(
    dest: Path,
    database_url: str,
    blobs: BlobStore,
    key_source: KeySource,
    *,
    include_secret_key: bool = False,
    progress: Progress | None = None,
) -> BackupReport:
    """Write a backup into the new folder ``dest`` (built as ``dest.partial``, renamed
    when complete). On PostgreSQL the database is left to ``pg_dump`` (the report names
    the command) and the contents of a local blob folder are still copied."""
    database_file = sqlite_path(database_url)
    is_sqlite = database_url.startswith("sqlite")
    if is_sqlite and database_file is None:
        raise BackupRefused("an in-memory database cannot be backed up.")
    with built_whole(dest) as folder:
        if database_file is not None:
            _sqlite_snapshot(database_file, folder / DATABASE_FILE)
            engine = create_engine(f"sqlite:///{folder / DATABASE_FILE}", poolclass=NullPool)
        else:
            engine = create_engine(database_url, poolclass=NullPool)
        try:
            with _connected(engine) as connection:
                revision = _revision(connection)
                wanted = manifest.referenced(connection)
                counts = manifest.counts(connection)
        finally:
            engine.dispose()
        report = BackupReport(
            folder=dest,
            database="sqlite" if is_sqlite else "postgresql",
            database_included=is_sqlite,
            revision=revision,
            blobs=0,
            bytes=0,
            linked=0,
            counts=counts,
            secret_key_included=include_secret_key,
        )
        copied: list[Blob] = []
        if isinstance(blobs, LocalBlobStore) or is_sqlite:
            copied = _copy_blobs(blobs, wanted, folder / BLOB_FOLDER, report, progress)
        else:
            report.notes.append(
                "The file contents are in an object store: back the bucket up with its own "
                "tools (versioning, or `aws s3 sync` / `rclone sync` to another bucket); "
                "manifest.json lists every content the database names."
            )
            copied = wanted
        manifest.write(folder, copied)
        if not is_sqlite:
            report.pg_dump = pg_dump_command(database_url, dest)
            report.notes.insert(
                0,
                "The database is PostgreSQL and is NOT in this folder: back it up with "
                "pg_dump, run BEFORE this command so that every content the dump names is "
                f"in this copy (contents are added and removed, never changed):\n  "
                f"{report.pg_dump}",
            )
        if include_secret_key:
            _copy_key(key_source, folder / FILE_NAME)
            report.notes.append(KEY_INCLUDED_NOTE)
        else:
            report.notes.append(KEY_NOTE.format(where=key_source.describe()))
        _write_info(folder, report)
    return report


def _copy_blobs(
    blobs: BlobStore,
    wanted: list[Blob],
    target: Path,
    report: BackupReport,
    progress: Progress | None,
) -> list[Blob]:
    make_dir(target)
    copied: list[Blob] = []
    for number, blob in enumerate(wanted, start=1):
        try:
            found, linked = _copy_blob(blobs, blob, target / blob.key)
        except BlobNotFound:
            report.problems.append(
                f"the content {blob.key} named by the database is missing from the blob "
                "store (deleted while the backup ran, or lost)"
            )
            continue
        if blob.sha256 and found.sha256 != blob.sha256:
            report.problems.append(
                f"the content {blob.key} differs from the SHA-256 the database recorded "
                "(damaged on disk); copied as it is"
            )
        copied.append(found)
        report.blobs += 1
        report.bytes += found.size
        report.linked += linked
        if progress is not None:
            progress(number, len(wanted), report.bytes)
    return copied


def _copy_key(source: KeySource, target: Path) -> None:
    keys = source.read()
    if not keys:
        raise BackupRefused(
            f"--include-secret-key: there is no secret key ({source.describe()} is missing).",
            "secret_key_unavailable",
            missing=True,
        )
    fd = open_private(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("".join(f"{k.text}\n" for k in keys))


def _write_info(folder: Path, report: BackupReport) -> None:
    info = {
        "format": FORMAT,
        "what": "A Koppel backup: koppel-admin restore FOLDER puts it back (docs/operations.md).",
        "release": __version__,
        "revision": report.revision,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": report.database,
        "database_file": DATABASE_FILE if report.database_included else None,
        # Checked by restore: every byte of the database, not only the contents it names.
        "database_sha256": (
            file_sha256(folder / DATABASE_FILE) if report.database_included else None
        ),
        "counts": report.counts,
        "blobs": report.blobs,
        "bytes": report.bytes,
        "secret_key_included": report.secret_key_included,
        "notes": report.notes,
        "problems": report.problems,
    }
    path = folder / INFO
    manifest.write_private(path, json.dumps(info, indent=2, ensure_ascii=False) + "\n")
    for written in (path, folder / manifest.MANIFEST):
        fsync_path(written)


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in 1 MiB pieces."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while piece := handle.read(1 << 20):
            digest.update(piece)
    return digest.hexdigest()


def read_info(folder: Path) -> dict[str, Any]:
    """The ``backup.json`` of a backup folder; a folder without one is refused."""
    path = folder / INFO
    if not folder.is_dir():
        raise BackupRefused(f"{folder} is not a folder.", "not_found", missing=True)
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        partial = folder.name.endswith(".partial")
        raise BackupRefused(
            f"{folder} holds no {INFO}: "
            + ("an unfinished backup (it was interrupted)." if partial else "not a backup.")
            + " Give the folder `koppel-admin backup` made.",
            "not_a_backup",
            missing=True,
        ) from exc
    except (OSError, ValueError) as exc:
        raise BackupRefused(f"cannot read {path}: {exc}", "backup_damaged") from exc
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise BackupRefused(
            f"{path} is of a backup format this release does not know "
            f"({info.get('format') if isinstance(info, dict) else '?'}); restore it with "
            "the release that made it.",
            "backup_format",
        )
    revision = info.get("revision")
    if revision and not migrate.known(str(revision)):
        raise BackupRefused(
            f"{folder} was made by Koppel {info.get('release')}, whose database is newer "
            f"than this release ({__version__}) reads (revision {revision}). Install that "
            "release or a newer one, then restore.",
            "backup_too_new",
        )
    return info


def remove_tree(path: Path) -> None:
    """Remove a folder built by a restore that did not complete."""
    shutil.rmtree(path, ignore_errors=True)
