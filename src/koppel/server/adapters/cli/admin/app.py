"""The root ``koppel-admin`` app: its help, the global options, and the command groups.

Every command group lives in a module of its own in this package, defining its own
``app = typer.Typer(...)``; the few commands of the root itself (``check``, ``audit``)
are plain functions in their own modules. This module only wires them together.

To add a command group (e.g. ``destinations``): write ``destinations.py`` with its
``app = typer.Typer(help=..., no_args_is_help=True)`` and commands, import the module
below, and register it with ONE line at the end of the registrations:

    app.add_typer(destinations.app, name="destinations")

Groups are listed in ``koppel-admin --help`` in the order they are registered here,
after the root commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from koppel._version import __version__
from koppel.server.adapters.cli.admin import (
    accounts,
    audit,
    backup,
    check,
    connectors,
    database,
    destinations,
    env_transfer,
    environments,
    extensions,
    files,
    groups,
    installation,
    integrations,
    item_types,
    portal,
    secret_key,
    setup,
    templates,
    tokens,
    users,
)
from koppel.server.adapters.cli.admin.common import State

_HELP = """Administer a Koppel environment host: accounts, environments, users, authorizations,
portal access, app connectors, user tokens, and the whole set-up procedure.

\b
Typical firm + clients set-up:
  koppel-admin accounts create anna --name "Anna de Boer" --password-stdin
  koppel-admin env create F10001 --name "Dekker & Co" --kind firm
  koppel-admin users add F10001 anna
  koppel-admin setup firm F10001
  koppel-admin env create C20001 --name "Bakkerij Jansen" --kind client --firm F10001
  koppel-admin setup client C20001 --firm F10001 --user anna
  koppel-admin check --all

\b
The agents' address (API URL, portal main sites) comes from the server: koppel-server
records the address it serves on (--public-url / KOPPEL_PUBLIC_URL, else http://HOST:PORT)
at every start, and `setup` records that one. `check` asks each recorded address whether
it answers as this server. koppel-admin never creates a database: the server does at its
first start, or `koppel-admin db init`.

\b
Every command changes the database in one transaction: all of it, or nothing.
Settings come from KOPPEL_* environment variables, overridden by the options below.

\b
Exit codes:
  0  success
  1  unexpected failure
  2  wrong usage (unknown option, missing argument, ...)
  3  check found missing steps
  4  unknown environment, account, group or token
  5  refused by a rule (validation, not a firm, unsupported update, ...)
  6  a logo not accepted (portal brand --logo: PNG, JPEG or WebP of at most 256 KB)
  130  interrupted (Ctrl+C, or end of input at a prompt); nothing was changed
"""

app = typer.Typer(
    name="koppel-admin",
    help=_HELP,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"koppel-admin {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Folder of the embedded database and blobs [env KOPPEL_DATA_DIR]."),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            help="Database URL, e.g. postgresql+psycopg://user:pw@host/db "
            "[env KOPPEL_DATABASE_URL; default SQLite in the data folder]."
        ),
    ] = None,
    public_url: Annotated[
        str | None,
        typer.Option(
            help="Address agents use to reach this server [env KOPPEL_PUBLIC_URL; "
            "default: the address koppel-server announced at its last start]."
        ),
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option(
            envvar="KOPPEL_ACTOR",
            help="Name recorded in the audit log as cli:NAME; default: your OS user name.",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    overrides = {
        k: v
        for k, v in {
            "data_dir": data_dir,
            "database_url": database_url,
            "public_url": public_url,
        }.items()
        if v is not None
    }
    ctx.obj = State(overrides=overrides, actor_name=actor)
    ctx.call_on_close(ctx.obj.close)


# Root commands, then the command groups: one line each.
app.command("check")(check.check)
app.command("audit")(audit.audit)
app.command("backup")(backup.backup)
app.command("restore")(backup.restore)
app.add_typer(accounts.app, name="accounts")
environments.app.command("export")(env_transfer.env_export)
environments.app.command("restore")(env_transfer.env_restore)
app.add_typer(environments.app, name="env")
app.add_typer(users.app, name="users")
app.add_typer(groups.app, name="groups")
app.add_typer(portal.app, name="portal")
app.add_typer(connectors.app, name="connector")
app.add_typer(tokens.app, name="tokens")
app.add_typer(setup.app, name="setup")
app.add_typer(database.app, name="db")
app.add_typer(installation.app, name="installation")
app.add_typer(destinations.app, name="destinations")
app.add_typer(item_types.app, name="item-types")
app.add_typer(templates.app, name="template")
app.add_typer(files.app, name="files")
app.add_typer(integrations.app, name="integrations")
app.add_typer(secret_key.app, name="secret-key")
app.add_typer(extensions.app, name="extensions")
