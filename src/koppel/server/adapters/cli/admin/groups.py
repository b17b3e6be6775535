"""``koppel-admin groups``: groups of an environment, their functions and members."""

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
    help="Groups of an environment; functions granted to a group apply to its members.",
    no_args_is_help=True,
)


@app.command("create")
def groups_create(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    name: Annotated[str, typer.Argument(help="Group name.")],
    json_mode: JsonOption = False,
) -> None:
    """Create a group in an environment."""
    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(env_code(code), admin.create_group(code, name))]
    out.show_outcomes(done, json_mode)


@app.command("list")
def groups_list(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    json_mode: JsonOption = False,
) -> None:
    """List an environment's groups with their functions and members."""
    from koppel.server.domain import lookups

    with unit_of_work(ctx, json_mode) as admin:
        repo = admin.repo
        env = lookups.environment(repo, code)
        auths = repo.authorizations(env.id)
        login_of = {m.membership.id: m.account.login for m in repo.members([env.id])}
        rows = [
            (
                g.name,
                sorted(a.function.value for a in auths if a.group_id == g.id),
                sorted(login_of[i] for i in repo.group_member_ids(g.id) if i in login_of),
            )
            for g in repo.groups(env.id)
        ]
    if json_mode:
        out.emit_json(
            {
                "environment": env.code,
                "groups": [{"name": n, "functions": f, "members": m} for n, f, m in rows],
            }
        )
        return
    out.table(["group", "functions", "members"], rows, f"groups of {env.code}")


@app.command("authorize", help="Grant functions to a group.\n\n" + FUNCTIONS_DOC)
def groups_authorize(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    name: Annotated[str, typer.Argument(help="Group name.")],
    function: Annotated[
        list[str] | None, typer.Option("--function", "-f", help=FUNCTION_HELP)
    ] = None,
    json_mode: JsonOption = False,
) -> None:
    chosen = parse_functions(function)
    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(env_code(code), admin.authorize_group(code, name, chosen, True))]
    out.show_outcomes(done, json_mode)


@app.command("unauthorize", help="Withdraw functions from a group.\n\n" + FUNCTIONS_DOC)
def groups_unauthorize(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    name: Annotated[str, typer.Argument(help="Group name.")],
    function: Annotated[
        list[str] | None, typer.Option("--function", "-f", help=FUNCTION_HELP)
    ] = None,
    json_mode: JsonOption = False,
) -> None:
    chosen = parse_functions(function)
    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(env_code(code), admin.authorize_group(code, name, chosen, False))]
    out.show_outcomes(done, json_mode)


@app.command("add-member")
def groups_add_member(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    name: Annotated[str, typer.Argument(help="Group name.")],
    logins: Annotated[list[str], typer.Argument(help="Logins of users of the environment.")],
    json_mode: JsonOption = False,
) -> None:
    """Put users in a group."""
    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(env_code(code), admin.set_group_member(code, name, x, True)) for x in logins]
    out.show_outcomes(done, json_mode)


@app.command("remove-member")
def groups_remove_member(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    name: Annotated[str, typer.Argument(help="Group name.")],
    logins: Annotated[list[str], typer.Argument(help="Logins of users of the environment.")],
    json_mode: JsonOption = False,
) -> None:
    """Take users out of a group."""
    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(env_code(code), admin.set_group_member(code, name, x, False)) for x in logins]
    out.show_outcomes(done, json_mode)
