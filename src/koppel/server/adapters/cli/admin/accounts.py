"""``koppel-admin accounts``: login identities, one per person."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from koppel.server.adapters.cli.admin import output as out
from koppel.server.adapters.cli.admin.common import (
    JsonOption,
    path_or_stdin,
    read_password,
    reporting,
    unit_of_work,
)
from koppel.server.adapters.cli.admin.output import Done

if TYPE_CHECKING:
    from koppel.server.domain.portal.model import WebRepository
    from koppel.server.domain.setup.administration import Admin

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
    email: Annotated[
        str | None,
        typer.Option(
            "--email", help="E-mail address, where a forgotten password's reset link goes."
        ),
    ] = None,
    json_mode: JsonOption = False,
) -> None:
    """Create an account (idempotent: an existing one is left as it is; --email sets its
    address all the same).

    Without --password-stdin or --password the password is asked twice, hidden, when
    running at a terminal; otherwise the command refuses.

    Example: echo "$PASSWORD" | koppel-admin accounts create anna --name "Anna de Vries"
    --email anna@firm.example --password-stdin
    """
    from koppel.server.domain.mail_address import optional_email
    from koppel.server.domain.setup.account_mail import set_email

    with reporting(json_mode):
        address = optional_email(email)  # a bad address refuses before the password is asked
        secret = read_password(password_stdin, password)
    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(None, admin.create_account(login, name or login, secret))]
        if address is not None:
            done.append(Done(None, set_email(admin, login, address)))
    out.show_outcomes(done, json_mode)


@app.command("set-email")
def accounts_set_email(
    ctx: typer.Context,
    login: Annotated[str, typer.Argument(help="The account's login.")],
    address: Annotated[str, typer.Argument(help='The e-mail address; "" removes the address.')],
    json_mode: JsonOption = False,
) -> None:
    """Set the e-mail address where a forgotten password's reset link goes.

    Example: koppel-admin accounts set-email anna anna@firm.example
    """
    from koppel.server.domain.setup.account_mail import set_email

    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(None, set_email(admin, login, address))]
    out.show_outcomes(done, json_mode)


@app.command("import")
def accounts_import(
    ctx: typer.Context,
    source: Annotated[
        Path,
        typer.Argument(
            help="CSV file (or - for stdin) with columns login,name[,email], separated by "
            "commas or semicolons (as Excel saves it); an optional header row names the "
            "columns, also in Dutch or French (login;naam;e-mail, login;nom;courriel)."
        ),
    ],
    json_mode: JsonOption = False,
) -> None:
    """Create many accounts at once and set their e-mail addresses, in one transaction:
    a bad row (its line is named) imports nothing. Existing accounts keep their name and
    password; a row's address replaces theirs. New accounts get a password nobody knows:
    their users choose one with the portal's "Forgot your password?" link (or set one
    with set-password).

    Example: koppel-admin accounts import employees.csv  (login;naam;e-mail from Excel)
    """
    from koppel.server.domain.setup.account_mail import import_rows, parse_rows

    with reporting(json_mode):
        rows = parse_rows(path_or_stdin(source))
    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(None, outcome) for outcome in import_rows(admin, rows)]
    out.show_outcomes(done, json_mode, rows=len(rows))


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
                        "email": a.email,
                        "disabled": a.disabled,
                        "environments": envs,
                    }
                    for a, envs in rows
                ]
            }
        )
        return
    out.table(
        ["login", "name", "email", "disabled", "environments"],
        [
            (
                a.login,
                a.display_name,
                a.email,
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


def _web_store(admin: Admin) -> WebRepository:
    """The portal's storage in the command's own transaction."""
    assert admin.portal is not None  # ``unit_of_work`` gives every repository
    return admin.portal


@app.command("unlock")
def accounts_unlock(
    ctx: typer.Context,
    login: Annotated[str, typer.Argument(help="The account's login.")],
    json_mode: JsonOption = False,
) -> None:
    """Forget an account's failed portal sign-ins, ending its temporary lockout."""
    from koppel.server.domain import lookups
    from koppel.server.domain.audit import record
    from koppel.server.domain.portal import sign_in
    from koppel.server.domain.setup.administration import Outcome

    with unit_of_work(ctx, json_mode) as admin:
        acct = lookups.account(admin.repo, login)
        count = sign_in.unlock(_web_store(admin), acct.login)
        if count:
            record(
                admin.repo,
                admin.policy,
                admin.actor,
                "account.unlock",
                None,
                login=acct.login,
                failures=count,
            )
            outcome = Outcome(
                True, f"account {acct.login} unlocked ({count} failed sign-ins forgotten)"
            )
        else:
            outcome = Outcome(False, f"account {acct.login} has no failed sign-ins to forget")
    out.show_outcomes([Done(None, outcome)], json_mode, failures=count)


@app.command("reset-second-factor")
def accounts_reset_second_factor(
    ctx: typer.Context,
    login: Annotated[str, typer.Argument(help="The account's login.")],
    json_mode: JsonOption = False,
) -> None:
    """Turn an account's two-step verification off (a lost phone): the next sign-in needs
    only the password, and the user can enrol again on the portal's Security page."""
    from koppel.server.domain import lookups
    from koppel.server.domain.portal import second_factor
    from koppel.server.domain.setup.administration import Outcome

    with unit_of_work(ctx, json_mode) as admin:
        acct = lookups.account(admin.repo, login)
        store = _web_store(admin)
        if second_factor.reset(admin.repo, store, admin.policy, admin.actor, acct):
            outcome = Outcome(True, f"two-step verification of {acct.login} turned off")
        else:
            outcome = Outcome(False, f"{acct.login} has no two-step verification")
    out.show_outcomes([Done(None, outcome)], json_mode)
