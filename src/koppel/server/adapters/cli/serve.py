"""``koppel-server``: run the environment host."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from koppel._version import __version__

if TYPE_CHECKING:
    from koppel.server.config import ServerSettings
    from koppel.server.services import Services

# With no command it runs the server (as it always did); `worker` is the one command.
app = typer.Typer(
    add_completion=False, rich_markup_mode=None, subcommand_metavar="[worker [OPTIONS]]"
)


def _settings(overrides: Mapping[str, object]) -> ServerSettings:
    """The KOPPEL_* settings with the command's options; an invalid one ends the command
    with exit 2, naming the variable and what is wrong (as koppel-admin does), not with a
    traceback."""
    from pydantic import ValidationError

    from koppel.server.config import ServerSettings, settings_problems

    try:
        return ServerSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        typer.echo(f"error: invalid configuration: {settings_problems(exc)}", err=True)
        raise typer.Exit(2) from None


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        if os.name == "posix":
            # As uvicorn binds: connections of a just-stopped server (TIME_WAIT) must not
            # block a restart; a process still listening on the port still does.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _announce(svc: Services) -> None:
    """Record this server's address for ``koppel-admin`` (the one place it reads it from)
    and warn about environments that record another one."""
    from koppel.protocol.counts import counted
    from koppel.server.domain.setup import host

    log = logging.getLogger("koppel.server")
    url = svc.policy.public_url
    if svc.store.needs_upgrade():
        return  # KOPPEL_AUTO_MIGRATE=false with migrations pending: nothing to record in
    with svc.transaction() as uow:
        earlier = host.announce(uow.host, url, svc.policy.clock())
        stray = host.elsewhere(uow.core.environments(None), url)
    if earlier:
        log.warning("this server's address changed from %s to %s", earlier, url)
    if stray:
        shown = ", ".join(f"{e.code} ({e.api_url})" for e in stray[:3])
        more = f" and {len(stray) - 3} more" if len(stray) > 3 else ""
        log.warning(
            "%s record another address than this server's %s: %s%s. "
            "Employees cannot link them: run `koppel-admin setup firm FIRM` and "
            "`koppel-admin setup client CLIENT... --firm FIRM` again (`koppel-admin check` "
            "lists them); employees linked at the old address save their settings again "
            "and link them.",
            counted(len(stray), "environment"),
            url,
            shown,
            more,
        )


def _banner(public_url: str, data_dir: Path, database: str) -> None:
    from koppel.server.demo import PASSWORD

    server = public_url
    typer.echo(
        f"""
Koppel environment host {__version__} with the demo practice
  address     {server}   (API docs: {server}/docs)
  portal      {server}/portal/F10001/   (sign in as anna; she administers every environment)
  data        {data_dir}   (database: {database.split("://")[0]})
  firm        F10001 Dekker & Co Accountants (portal)
  clients     C20001, C20002, C20003 (no portal of their own)
  logins      anna / {PASSWORD}   and   bram / {PASSWORD}

Try the agent in another terminal (same virtual environment); each download shows
a code to approve at {server}/device (sign in as anna there):
  koppel settings download --server {server} --env F10001
  koppel link F10001.koppel
  koppel settings download --server {server} --env F10001 --bundle
  koppel link F10001-clients.koppel
  (scripts: --login anna with KOPPEL_PASSWORD={PASSWORD} instead of the browser)
  koppel envs
  koppel doctor
  koppel submit invoice.pdf --to D0001 --type Invoice --env C20001
  koppel items --env C20001
  koppel agent run        (the background agent: files arrive in ~/Downloads/Koppel/<environment>/)
  koppel autostart enable (start it at login)   koppel tray   (needs koppel[desktop])
and the administration:
  koppel-admin --data-dir {data_dir} check --all
""",
        err=True,
    )


@app.callback(invoke_without_command=True)
def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option(help="Address to listen on [env KOPPEL_HOST; 127.0.0.1].")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port [env KOPPEL_PORT; 8080].")] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Folder for the embedded database and blobs [env KOPPEL_DATA_DIR]."),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(help="Database URL, e.g. postgresql+psycopg://... [env KOPPEL_DATABASE_URL]."),
    ] = None,
    public_url: Annotated[
        str | None,
        typer.Option(help="Address agents use to reach this server [env KOPPEL_PUBLIC_URL]."),
    ] = None,
    demo: Annotated[
        bool, typer.Option(help="Create the demo practice (idempotent) and print how to try it.")
    ] = False,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    """Run the Koppel environment host: the agent API for every environment it hosts.

    By default it keeps everything under one data folder (SQLite + blob folder, readable
    by this OS user only) and migrates the database at start. Every option can also be
    set as KOPPEL_<NAME>. Exits 2 when a setting is invalid, 4 when the port is in use,
    5 when the secret key (KOPPEL_SECRET_KEY or <data dir>/secret.key) is missing or not
    the database's, 6 when KOPPEL_AUTO_MIGRATE=false and the database lacks migrations of
    this release, 7 when the database does not answer.

    `koppel-server worker` runs only the job workers (see its --help).

    \b
    Example, one of two replicas on PostgreSQL:
      export KOPPEL_DATABASE_URL=postgresql+psycopg://koppel@db/koppel
      koppel-server --host 127.0.0.1 --port 8081
    """
    if ctx.invoked_subcommand is not None:
        # Options given before a command (`koppel-server --port 1 worker`) would be lost.
        given = [
            name
            for name in ctx.params
            # Typer ships its own click: the source is compared by name.
            if getattr(ctx.get_parameter_source(name), "name", "") == "COMMANDLINE"
        ]
        if given:
            options = ", ".join("--" + name.replace("_", "-") for name in given)
            verb = "is" if len(given) == 1 else "are"
            typer.echo(
                f"error: {options} {verb} for the server, not for `koppel-server "
                f"{ctx.invoked_subcommand}`; give that command's own options after its name.",
                err=True,
            )
            raise typer.Exit(2)
        return
    if version:
        typer.echo(f"koppel-server {__version__}")
        raise typer.Exit()
    import uvicorn

    from koppel.server.adapters.app import create_app
    from koppel.server.adapters.http.path_send import PathSendProtocol

    overrides = {
        k: v
        for k, v in {
            "host": host,
            "port": port,
            "data_dir": data_dir,
            "database_url": database_url,
            "public_url": public_url,
        }.items()
        if v is not None
    }
    settings = _settings(overrides)
    if not 0 <= settings.port <= 65535:
        typer.echo(
            f"error: {settings.port} is not a port; give one from 1 to 65535 with --port "
            "(or KOPPEL_PORT).",
            err=True,
        )
        raise typer.Exit(2)
    try:
        socket.getaddrinfo(settings.host, settings.port)
    except (socket.gaierror, UnicodeError) as exc:
        typer.echo(
            f"error: cannot listen on {settings.host!r}: it is not an address of this "
            f"machine ({exc}); give one with --host (or KOPPEL_HOST), e.g. 127.0.0.1 or "
            "0.0.0.0.",
            err=True,
        )
        raise typer.Exit(2) from None
    if not _port_free(settings.host, settings.port):
        typer.echo(
            f"error: port {settings.port} on {settings.host} is in use; stop the other "
            "process or choose another with --port (or KOPPEL_PORT).",
            err=True,
        )
        raise typer.Exit(4)
    from koppel.server.adapters.cli.starting import open_services

    svc = open_services(settings, log_level, "server")
    if demo:
        from koppel.server.demo import create_demo

        create_demo(svc)
    _announce(svc)
    if demo:
        _banner(settings.resolved_public_url, settings.data_dir, settings.resolved_database_url)
    try:
        uvicorn.run(
            create_app(svc),
            host=settings.host,
            port=settings.port,
            log_level=log_level,
            log_config=None,  # configured above
            http=PathSendProtocol,  # uvicorn's, sending whole files from threads
            access_log=False,  # koppel.access writes it, with the request id and route
        )
    finally:
        svc.database.dispose()  # kept connections closed: SQLite checkpoints its log


@app.command()
def worker(
    threads: Annotated[
        int | None,
        typer.Option(min=1, max=32, help="Job threads [env KOPPEL_WORKERS; at least 1]."),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Folder of the embedded database and blobs [env KOPPEL_DATA_DIR]."),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(help="Database URL, e.g. postgresql+psycopg://... [env KOPPEL_DATABASE_URL]."),
    ] = None,
    log_level: Annotated[str, typer.Option(help="Log level.")] = "info",
) -> None:
    """Run only the job workers (the analyses: dossier overviews), without HTTP.

    Uses the same settings as the server (KOPPEL_DATABASE_URL, KOPPEL_BLOB_URL or the
    data folder, KOPPEL_SECRET_KEY, KOPPEL_LOG_FORMAT...) and claims the jobs any replica
    queued; run the replicas with KOPPEL_WORKERS=0 to leave every job to it. SIGTERM or
    Ctrl+C stops it after the jobs in hand (a job still running after 10 s is taken
    again by another worker once its lease lapses). Exits 5 when the secret key is
    missing or not the database's, 6 when KOPPEL_AUTO_MIGRATE=false and the database
    lacks migrations of this release, 7 when the database does not answer.

    \b
    Example, beside two replicas started with KOPPEL_WORKERS=0:
      export KOPPEL_DATABASE_URL=postgresql+psycopg://koppel@db/koppel
      koppel-server worker --threads 2
    """
    from koppel.server.adapters.cli.work import run_worker

    overrides = {
        k: v
        for k, v in {"data_dir": data_dir, "database_url": database_url}.items()
        if v is not None
    }
    run_worker(_settings(overrides), threads, log_level)


def main() -> None:
    """Entry point of ``koppel-server``."""
    app()
