"""``koppel-admin tokens``: user tokens, one per user, environment and linked workstation."""

from __future__ import annotations

from typing import Annotated

import typer

from koppel.server.cli.admin import output as out
from koppel.server.cli.admin.common import (
    EXIT_USAGE,
    JsonOption,
    Refusal,
    env_code,
    reporting,
    unit_of_work,
)
from koppel.server.cli.admin.output import Done

app = typer.Typer(
    help="User tokens: one per user, environment and linked workstation.", no_args_is_help=True
)


@app.command("list")
def tokens_list(
    ctx: typer.Context,
    code: Annotated[str | None, typer.Argument(help="Environment code; default: all.")] = None,
    user: Annotated[str | None, typer.Option("--user", help="Only this login's tokens.")] = None,
    everything: Annotated[bool, typer.Option("--all", help="Include revoked tokens.")] = False,
    json_mode: JsonOption = False,
) -> None:
    """List user tokens: id, environment, login, workstation, created, last used, revoked."""
    with unit_of_work(ctx, json_mode) as admin:
        views = admin.list_tokens(code, user, everything)
    if json_mode:
        out.emit_json(
            {
                "tokens": [
                    {
                        "id": v.token.public_id,
                        "environment": v.environment.code,
                        "login": v.account.login,
                        "connector": v.token.connector.value,
                        "workstation_id": v.token.workstation_id,
                        "workstation_name": v.token.workstation_name,
                        "created": v.token.created_at,
                        "expires": v.token.expires_at,
                        "last_used": v.token.last_used_at,
                        "revoked": v.token.revoked_at,
                        "revoked_reason": (
                            v.token.revoked_reason.value if v.token.revoked_reason else None
                        ),
                    }
                    for v in views
                ]
            }
        )
        return
    out.table(
        ["token", "env", "login", "workstation", "created", "last used", "revoked"],
        [
            (
                v.token.public_id,
                v.environment.code,
                v.account.login,
                f"{v.token.workstation_name} ({v.token.workstation_id})",
                v.token.created_at,
                v.token.last_used_at,
                f"{out.when(v.token.revoked_at)} {v.token.revoked_reason.value}"
                if v.token.revoked_at and v.token.revoked_reason
                else None,
            )
            for v in views
        ],
        "tokens",
    )


@app.command("revoke")
def tokens_revoke(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    token_ids: Annotated[
        list[str] | None, typer.Argument(help="Token ids (see `tokens list`).")
    ] = None,
    user: Annotated[str | None, typer.Option("--user", help="Every token of this login.")] = None,
    workstation: Annotated[
        str | None,
        typer.Option("--workstation", help="Every token of this workstation (id or name)."),
    ] = None,
    all_tokens: Annotated[
        bool, typer.Option("--all-tokens", help="Every active token of the environment.")
    ] = False,
    json_mode: JsonOption = False,
) -> None:
    """Revoke user tokens of an environment (a lost laptop): that workstation loses access
    at once. Select by token id, --user and/or --workstation, or --all-tokens."""
    if not (token_ids or user or workstation or all_tokens):
        with reporting(json_mode):
            raise Refusal(
                "say which tokens to revoke: TOKEN_ID..., --user LOGIN or --workstation W "
                "(or --all-tokens for every token of the environment)",
                EXIT_USAGE,
            )
    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(env_code(code), admin.revoke_tokens(code, user, token_ids or (), workstation))]
    out.show_outcomes(done, json_mode)
