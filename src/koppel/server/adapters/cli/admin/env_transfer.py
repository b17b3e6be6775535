"""``koppel-admin env export`` / ``env restore``: one environment with its file contents
in one zip file, to move it to another host (or from SQLite to PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from koppel.protocol.counts import counted
from koppel.server.adapters.cli.admin import output as out
from koppel.server.adapters.cli.admin.backup import refusals
from koppel.server.adapters.cli.admin.common import (
    JsonOption,
    State,
    env_code,
    reporting,
    state_of,
)


def env_export(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code, e.g. C20001.")],
    file: Annotated[Path, typer.Argument(help="A new zip file to write, e.g. C20001.zip.")],
    json_mode: JsonOption = False,
) -> None:
    """Write one environment and its file contents into a zip file (export.json,
    environment.json, manifest.json with every content's SHA-256, blobs/): users and
    their password hashes, groups, authorizations, connectors, destinations, item types,
    items with every version, finished My files, templates, integration keys, the audit
    trail. The file holds password hashes and documents: keep it as safe as the host.

    \b
    Not moved: workstation links (users link again with a new settings file), two-step
    verification (set up again), events, sessions, jobs, unfinished uploads.

    \b
    Example (from this host onto a PostgreSQL one):
      koppel-admin env export C20001 C20001.zip
      KOPPEL_DATABASE_URL=postgresql+psycopg://koppel@db/koppel \\
        koppel-admin env restore C20001.zip
    """
    from koppel.server.adapters.backup.environment import export_environment, record_export

    state: State = state_of(ctx)
    with reporting(json_mode), refusals():
        svc = state.services()
        target = file.absolute()
        report = export_environment(svc.database.engine, svc.blobs, env_code(code), target)
        record_export(svc.database.engine, report.environment, target, state.actor)
    if json_mode:
        out.emit_json(report.as_json())
        return
    c = report.counts
    out.write(
        f"{report.environment} exported to {report.file}: {counted(c['items'], 'item')}, "
        f"{counted(c['attachment_versions'], 'file version')}, "
        f"{counted(c['memberships'], 'user')}, {counted(report.blobs, 'file content')} "
        f"({report.bytes / 1e6:,.1f} MB)\n"
        "The file holds password hashes and documents: keep it as safe as the host.\n"
        "Not in it: workstation links (users link again), two-step verification, events.\n"
        f"On the other host: koppel-admin env restore {report.file.name}"
    )


def env_restore(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A zip file written by `env export`.")],
    json_mode: JsonOption = False,
) -> None:
    """Put an environment exported by `env export` on this host: every file content is
    checked against the file's manifest while it is stored, then every row is written
    in one transaction; a damaged file, or an environment code that exists here, is
    refused with nothing changed. Accounts that exist here (same login) are used as
    they are. The environment's users link their workstations again.

    \b
    Example:
      koppel-admin env restore C20001.zip
      koppel-admin setup client C20001 --firm F10001   # addresses of this host
    """
    from koppel.server.adapters.backup.environment import restore_environment

    state: State = state_of(ctx)
    with reporting(json_mode), refusals():
        svc = state.services()
        report = restore_environment(svc.database.engine, svc.blobs, file.absolute(), state.actor)
    if json_mode:
        out.emit_json(report.as_json())
        return
    c = report.counts
    lines = [
        f"{report.environment} restored from {report.file}: {counted(c['items'], 'item')}, "
        f"{counted(c['attachment_versions'], 'file version')}, "
        f"{counted(c['memberships'], 'user')}, {counted(report.blobs, 'file content')} "
        f"({report.bytes / 1e6:,.1f} MB), every content checked against the manifest",
        *report.notes,
        "Its users link their workstations again (Save settings, then koppel link); "
        "those who had two-step verification set it up again.",
        f"If this host's address differs: koppel-admin env set-api-url {report.environment} "
        "URL (and set-main-site), or koppel-admin setup.",
    ]
    out.write("\n".join(lines))
