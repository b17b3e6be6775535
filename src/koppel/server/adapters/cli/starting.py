"""What ``koppel-server`` and ``koppel-server worker`` do alike as they start: the log
format, the file mode, the services, and the refusal of a database that is behind."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from koppel.server.adapters.assembly import ServerServices
    from koppel.server.config import ServerSettings

BAD_SETTING = 2
KEY_PROBLEM = 5
SCHEMA_BEHIND = 6
DATABASE_UNREACHABLE = 7
# What the composition root opens (sqlite:///..., postgresql+psycopg://...).
# uvicorn's level names (its run() fails on any other with a KeyError).
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


def open_services(settings: ServerSettings, log_level: str, command: str) -> ServerServices:
    """Configure logging, open the services; exit 2 for a bad log level, data folder or
    database URL, 5 when the secret key is missing or not the database's, 6 when the
    database lacks migrations and KOPPEL_AUTO_MIGRATE=false, 7 when the database does not
    answer.
    ``command`` names the process in the message ("server", "worker")."""
    from koppel.server.adapters.assembly import create_services
    from koppel.server.adapters.observability import logs
    from koppel.server.adapters.secret_key import SecretKeyError
    from koppel.server.config import data_folder_problem, unknown_variables

    if log_level.lower() not in LOG_LEVELS:
        typer.echo(
            f"error: --log-level {log_level!r} is not a log level; choose one of "
            f"{', '.join(LOG_LEVELS)}.",
            err=True,
        )
        raise typer.Exit(BAD_SETTING)
    # uvicorn's lines too, with timestamps and request ids (KOPPEL_LOG_FORMAT=json: JSON).
    logs.configure(log_level, settings.log_format)
    for warning in unknown_variables(os.environ):
        logging.getLogger("koppel.server").warning("%s", warning)
    # Everything this process writes (database, blobs, packages, key file) is for its
    # own OS user only, also what libraries create; the code gives modes where it
    # creates files too, for other callers of Services.
    os.umask(0o077)
    try:
        svc = create_services(settings)
    except SecretKeyError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(KEY_PROBLEM) from None
    except OSError as exc:  # the data folder is a file, read-only, on a missing disk...
        typer.echo(f"error: {data_folder_problem(settings, exc)}", err=True)
        raise typer.Exit(BAD_SETTING) from None
    except Exception as exc:  # the database does not answer (or refuses this login)
        if os.environ.get("KOPPEL_DEBUG"):
            raise
        reason = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0]
        typer.echo(
            f"error: cannot open the database ({type(exc).__name__}: {reason}); check "
            "--database-url (KOPPEL_DATABASE_URL) and that the database server runs, then "
            f"start the {command} again (KOPPEL_DEBUG=1 shows the traceback).",
            err=True,
        )
        raise typer.Exit(DATABASE_UNREACHABLE) from None
    if svc.store.needs_upgrade():
        # KOPPEL_AUTO_MIGRATE=false (as the deploy files set: one migration, by the
        # administrator, not one per replica racing the others).
        current, head = svc.database.revisions()
        fix = (
            f"the database is at migration {current} and this release needs {head}; apply "
            "the migrations with `koppel-admin db upgrade`"
            if current
            else "the database has no tables yet; create it with `koppel-admin db init`"
        )
        typer.echo(
            f"error: {fix} (same KOPPEL_DATABASE_URL / KOPPEL_DATA_DIR as this {command}), "
            f"then start the {command} again. It does not migrate by itself: "
            "KOPPEL_AUTO_MIGRATE=false.",
            err=True,
        )
        svc.database.dispose()
        raise typer.Exit(SCHEMA_BEHIND)
    return svc
