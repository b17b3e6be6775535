"""``koppel-admin portal``: portal (InSite) access of an environment's users."""

from __future__ import annotations

from typing import Annotated

import typer

from koppel.server.adapters.cli.admin import output as out
from koppel.server.adapters.cli.admin import portal_brand
from koppel.server.adapters.cli.admin.common import JsonOption, env_code, unit_of_work
from koppel.server.adapters.cli.admin.output import Done

app = typer.Typer(
    help="Portal (InSite) access of an environment's users, and the firm's branding.",
    no_args_is_help=True,
)
app.command("brand")(portal_brand.brand)


def _portal(
    ctx: typer.Context,
    code: str,
    logins: list[str] | None,
    everyone: bool,
    granted: bool,
    json_mode: bool,
) -> None:
    if bool(logins) == everyone:
        raise typer.BadParameter("name the users (LOGIN...) or give --all, not both")
    with unit_of_work(ctx, json_mode) as admin:
        chosen = admin.logins(code) if everyone else list(logins or [])
        done = [Done(env_code(code), admin.set_portal_access(code, x, granted)) for x in chosen]
    if not done and not json_mode:
        out.write(f"{env_code(code)} has no users yet; add them with `koppel-admin users add`.")
        return
    out.show_outcomes(done, json_mode)


@app.command("grant")
def portal_grant(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    logins: Annotated[list[str] | None, typer.Argument(help="Logins of users.")] = None,
    everyone: Annotated[bool, typer.Option("--all", help="Every user of the environment.")] = False,
    json_mode: JsonOption = False,
) -> None:
    """Give users access to the environment's portal (InSite)."""
    _portal(ctx, code, logins, everyone, True, json_mode)


@app.command("revoke")
def portal_revoke(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    logins: Annotated[list[str] | None, typer.Argument(help="Logins of users.")] = None,
    everyone: Annotated[bool, typer.Option("--all", help="Every user of the environment.")] = False,
    json_mode: JsonOption = False,
) -> None:
    """Withdraw users' access to the environment's portal."""
    _portal(ctx, code, logins, everyone, False, json_mode)
