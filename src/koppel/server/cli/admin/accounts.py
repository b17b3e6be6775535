"""``koppel-admin accounts``: login identities, one per person."""

from __future__ import annotations

from typing import Annotated

import typer

from koppel.server.cli.admin import output as out
from koppel.server.cli.admin.common import JsonOption, read_password, reporting, unit_of_work
from koppel.server.cli.admin.output import Done

app = typer.Typer(
    help="Login identities (one per person, usable in many environments).",
    no_args_is_help=True,
)


@app.command("create")
def accounts_create(
    ctx: typer.Context,
    login: Annotated[str, typer.Argument(help="Login, e.g. anna (lower case).")],
    name: Annotated[
        str | None, typer.Option("--name", help="Display name; default: the login.")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    password: Annotated[
        str | None,
        typer.Option(
            "--password", help="The password (visible in the process list; prefer stdin)."
        ),
    ] = None,
    json_mode: JsonOption = False,
) -> None:
    """Create an account (idempotent: an existing one is left as it is).

    Without --password-stdin or --password the password is asked twice, hidden, when
    running at a terminal; otherwise the command refuses.
    """
    with reporting(json_mode):
        secret = read_password(password_stdin, password)
    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(None, admin.create_account(login, name or login, secret))]
    out.show_outcomes(done, json_mode)


@app.command("list")
def accounts_list(ctx: typer.Context, json_mode: JsonOption = False) -> None:
    """List every account with the environments it is a user of."""
    with unit_of_work(ctx, json_mode) as admin:
        repo = admin.repo
        codes = {e.id: e.code for e in repo.environments()}
        rows = [
            (a, sorted(codes[m.environment_id] for m in repo.memberships_of(a.id)))
            for a in repo.accounts()
        ]
    if json_mode:
        out.emit_json(
            {
                "accounts": [
                    {
                        "login": a.login,
                        "name": a.display_name,
                        "disabled": a.disabled,
                        "environments": envs,
                    }
                    for a, envs in rows
                ]
            }
        )
        return
    out.table(
        ["login", "name", "disabled", "environments"],
        [
            (
                a.login,
                a.display_name,
                a.disabled,
                envs if len(envs) <= 6 else [*envs[:5], f"... ({len(envs)} in all)"],
            )
            for a, envs in rows
        ],
        "accounts",
    )


@app.command("disable")
def accounts_disable(
    ctx: typer.Context,
    login: Annotated[str, typer.Argument(help="The account's login.")],
    json_mode: JsonOption = False,
) -> None:
    """Disable an account everywhere: it can no longer save settings or use the agent."""
    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(None, admin.set_account_disabled(login, True))]
    out.show_outcomes(done, json_mode)


@app.command("enable")
def accounts_enable(
    ctx: typer.Context,
    login: Annotated[str, typer.Argument(help="The account's login.")],
    json_mode: JsonOption = False,
) -> None:
    """Enable a disabled account again."""
    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(None, admin.set_account_disabled(login, False))]
    out.show_outcomes(done, json_mode)


@app.command("set-password")
def accounts_set_password(
    ctx: typer.Context,
    login: Annotated[str, typer.Argument(help="The account's login.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    password: Annotated[
        str | None, typer.Option("--password", help="The new password (prefer stdin).")
    ] = None,
    json_mode: JsonOption = False,
) -> None:
    """Replace an account's password (asked twice, hidden, at a terminal)."""
    with reporting(json_mode):
        secret = read_password(password_stdin, password)
    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(None, admin.set_password(login, secret))]
    out.show_outcomes(done, json_mode)
