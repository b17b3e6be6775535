"""``koppel-admin backup`` and ``restore``: the whole host into a folder, and back."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from koppel.protocol.counts import counted
from koppel.server.adapters.cli.admin import output as out
from koppel.server.adapters.cli.admin.common import (
    EXIT_NOT_FOUND,
    EXIT_REFUSED,
    JsonOption,
    Refusal,
    State,
    reporting,
    state_of,
)

ProgressLine = Callable[[int, int, int], None]


@contextmanager
def refusals() -> Iterator[None]:
    """A ``BackupRefused`` as the CLI's refusal (one line, exit 4 or 5)."""
    from koppel.server.adapters.backup.errors import BackupRefused

    try:
        yield
    except BackupRefused as exc:
        raise Refusal(
            exc.message, EXIT_NOT_FOUND if exc.missing else EXIT_REFUSED, exc.code
        ) from None
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        raise Refusal(
            f"{exc.strerror or exc}{where}; nothing was kept.", EXIT_REFUSED, "os_error"
        ) from exc


def progress_line(verb: str, json_mode: bool) -> ProgressLine | None:
    """A progress line on a terminal's stderr, rewritten at most 10 times a second."""
    if json_mode or not sys.stderr.isatty():
        return None
    last = [0.0]

    def show(done: int, total: int, size: int) -> None:
        now = time.monotonic()
        if done < total and now - last[0] < 0.1:
            return
        last[0] = now
        sys.stderr.write(f"\r{verb} {done:,} of {counted(total, 'file')} ({size / 1e6:,.1f} MB)")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def backup(
    ctx: typer.Context,
    dest: Annotated[Path, typer.Argument(help="A new folder to write the backup into.")],
    include_secret_key: Annotated[
        bool,
        typer.Option(
            "--include-secret-key",
            help="Also copy the secret key into the backup. Whoever has such a backup "
            "can read every secret of the database: keep it as safe as the key.",
        ),
    ] = False,
    json_mode: JsonOption = False,
) -> None:
    """Back up the host into a new folder while the server runs: a consistent copy of
    the database (SQLite's online backup), every file content it names (hard links
    where the file system allows) and their manifest (size, SHA-256), and backup.json.
    The folder is written as DEST.partial and renamed when complete.

    \b
    The secret key is not in the backup unless --include-secret-key: back up
    <data dir>/secret.key (or KOPPEL_SECRET_KEY) apart from it; a restore needs it.
    On PostgreSQL the command prints the pg_dump command for the database and copies
    the file contents of a local blob folder.

    \b
    Example:
      koppel-admin backup /srv/backups/koppel-$(date +%F)
      koppel-admin restore /srv/backups/koppel-2026-12-03   # on an empty data folder
    """
    from koppel.server.adapters.assembly import key_source
    from koppel.server.adapters.backup.snapshot import make_backup

    state: State = state_of(ctx)
    with reporting(json_mode), refusals():
        svc = state.services(migrate=False)
        settings = state.settings()
        report = make_backup(
            dest.absolute(),
            settings.resolved_database_url,
            svc.blobs,
            key_source(settings),
            include_secret_key=include_secret_key,
            progress=progress_line("copied", json_mode),
        )
    if json_mode:
        out.emit_json(report.as_json())
        return
    counts = report.counts
    what = "database and " if report.database_included else ""
    lines = [
        f"backup written to {report.folder}: {what}{counted(report.blobs, 'file content')} "
        f"({report.bytes / 1e6:,.1f} MB, {report.linked:,} hard-linked), revision "
        f"{report.revision}; {counted(counts['environments'], 'environment')}, "
        f"{counted(counts['items'], 'item')}, {counted(counts['accounts'], 'account')}",
        *report.notes,
    ]
    lines += [f"warning: {p}" for p in report.problems]
    out.write("\n".join(lines))


def restore(
    ctx: typer.Context,
    source: Annotated[Path, typer.Argument(help="A folder written by `koppel-admin backup`.")],
    json_mode: JsonOption = False,
) -> None:
    """Restore a backup into an empty data folder (--data-dir / KOPPEL_DATA_DIR): every
    file content is checked against the manifest's SHA-256 before anything is put in
    place, and a damaged or altered backup is refused with nothing restored.

    \b
    The data folder must hold no database: stop the server and move the old folder
    away first. The secret key the backup's database needs must be at
    <data dir>/secret.key or in KOPPEL_SECRET_KEY (or in the backup, if it was made
    with --include-secret-key).

    \b
    Example:
      mv /var/lib/koppel /var/lib/koppel.before-restore
      install -d -m 700 /var/lib/koppel && cp /safe/place/secret.key /var/lib/koppel/
      koppel-admin --data-dir /var/lib/koppel restore /srv/backups/koppel-2026-12-03
    """
    from koppel.server.adapters.assembly import key_source
    from koppel.server.adapters.backup.restore import restore_backup

    state: State = state_of(ctx)
    with reporting(json_mode), refusals():
        settings = state.settings()
        if settings.database_url is not None:
            raise Refusal(
                "restore puts a backup into the embedded database of a data folder; "
                "KOPPEL_DATABASE_URL (--database-url) names another database. For "
                "PostgreSQL use pg_restore (docs/operations.md); to move environments "
                "onto PostgreSQL use `koppel-admin env export` and `env restore`.",
                EXIT_REFUSED,
            )
        # KOPPEL_BLOB_URL (an object store) comes with the S3 blob store; a restore fills
        # the local blob folder only.
        if getattr(settings, "blob_url", None):
            raise Refusal(
                "restore puts the contents into the data folder's blob folder, but "
                "KOPPEL_BLOB_URL names an object store. Restore without KOPPEL_BLOB_URL, "
                "then copy <data dir>/blobs/blobs/ into the bucket with its own tools (aws "
                "s3 sync) before the servers start with it.",
                EXIT_REFUSED,
            )
        report = restore_backup(
            source.absolute(),
            settings.data_dir.absolute(),
            key_source(settings),
            progress=progress_line("checked and copied", json_mode),
        )
    if json_mode:
        out.emit_json(report.as_json())
        return
    counts = report.counts
    out.write(
        "\n".join(
            [
                f"restored into {report.data_dir}: "
                f"{counted(counts['environments'], 'environment')}, "
                f"{counted(counts['items'], 'item')}, {counted(report.blobs, 'file content')} "
                f"({report.bytes / 1e6:,.1f} MB), every one checked against the manifest",
                f"secret key: {report.secret_key}",
                *report.notes,
                f"start the server: koppel-server --data-dir {report.data_dir} (it applies "
                "the migrations of this release if the backup is older)",
            ]
        )
    )
