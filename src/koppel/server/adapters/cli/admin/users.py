"""``koppel-admin users``: users of an environment and the functions they are authorized for."""

from __future__ import annotations

from typing import Annotated

import typer

from koppel.server.adapters.cli.admin import output as out
from koppel.server.adapters.cli.admin.common import (
    FUNCTION_HELP,
    FUNCTIONS_DOC,
    JsonOption,
    env_code,
    parse_functions,
    unit_of_work,
)
from koppel.server.adapters.cli.admin.output import Done

app = typer.Typer(
    help="Users of an environment and the functions they are authorized for.",
    no_args_is_help=True,
)


@app.command("add")
def users_add(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    logins: Annotated[list[str], typer.Argument(help="Logins of existing accounts.")],
    json_mode: JsonOption = False,
) -> None:
    """Make accounts users of an environment."""
    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(env_code(code), admin.add_user(code, login)) for login in logins]
    out.show_outcomes(done, json_mode)


@app.command("list")
def users_list(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    json_mode: JsonOption = False,
) -> None:
    """List an environment's users: login, name, portal access, functions (direct and
    through groups)."""
    from koppel.server.domain import lookups

    with unit_of_work(ctx, json_mode) as admin:
        env = lookups.environment(admin.repo, code)
        members = admin.repo.members([env.id])
        functions = admin.repo.functions_of([m.membership.id for m in members])
    rows = [(m, sorted(f.value for f in functions.get(m.membership.id, set()))) for m in members]
    if json_mode:
        out.emit_json(
            {
                "environment": env.code,
                "users": [
                    {
                        "login": m.account.login,
                        "name": m.account.display_name,
                        "portal": m.membership.portal_access,
                        "disabled": m.account.disabled,
                        "functions": fs,
                    }
                    for m, fs in rows
                ],
            }
        )
        return
    out.table(
        ["login", "name", "portal", "functions"],
        [
            (
                m.account.login,
                m.account.display_name,
                m.membership.portal_access,
                [f.rsplit("/", 1)[-1] for f in fs],
            )
            for m, fs in rows
        ],
        f"users of {env.code}",
    )


def _authorize_users(
    ctx: typer.Context,
    code: str,
    logins: list[str],
    functions: list[str] | None,
    granted: bool,
    json_mode: bool,
) -> None:
    chosen = parse_functions(functions)
    with unit_of_work(ctx, json_mode) as admin:
        done = [
            Done(env_code(code), admin.authorize_user(code, login, chosen, granted))
            for login in logins
        ]
    out.show_outcomes(done, json_mode)


@app.command(
    "authorize", help="Authorize users of an environment for functions.\n\n" + FUNCTIONS_DOC
)
def users_authorize(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    logins: Annotated[list[str], typer.Argument(help="Logins of users of the environment.")],
    function: Annotated[
        list[str] | None, typer.Option("--function", "-f", help=FUNCTION_HELP)
    ] = None,
    json_mode: JsonOption = False,
) -> None:
    _authorize_users(ctx, code, logins, function, True, json_mode)


@app.command(
    "unauthorize", help="Withdraw functions granted directly to users.\n\n" + FUNCTIONS_DOC
)
def users_unauthorize(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    logins: Annotated[list[str], typer.Argument(help="Logins of users of the environment.")],
    function: Annotated[
        list[str] | None, typer.Option("--function", "-f", help=FUNCTION_HELP)
    ] = None,
    json_mode: JsonOption = False,
) -> None:
    _authorize_users(ctx, code, logins, function, False, json_mode)
