"""``koppel-admin tokens``: user tokens, one per user, environment and linked workstation."""

from __future__ import annotations

from typing import Annotated

import typer

from koppel.server.adapters.cli.admin import output as out
from koppel.server.adapters.cli.admin.common import (
    EXIT_USAGE,
    JsonOption,
    Refusal,
    env_code,
    reporting,
    unit_of_work,
)
from koppel.server.adapters.cli.admin.output import Done
from koppel.server.domain.links.revocation import plural

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
    code: Annotated[
        str | None,
        typer.Argument(
            help="Environment code. Leave it out with --workstation to revoke a workstation "
            "in every environment (a lost laptop).",
            show_default=False,
        ),
    ] = None,
    token_ids: Annotated[
        list[str] | None, typer.Argument(help="Token ids (see `tokens list`).")
    ] = None,
    user: Annotated[
        str | None,
        typer.Option(
            "--user", help="Every token of this login (with --workstation: only this login's)."
        ),
    ] = None,
    workstation: Annotated[
        str | None,
        typer.Option(
            "--workstation",
            help="Every token of this workstation: its id, or its name exactly as "
            "`tokens list` shows it.",
        ),
    ] = None,
    all_tokens: Annotated[
        bool, typer.Option("--all-tokens", help="Every active token of the environment.")
    ] = False,
    firm: Annotated[
        str | None,
        typer.Option(
            "--firm",
            help="With --workstation and no environment: only in this firm's environment "
            "and its clients'.",
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="With --workstation and no environment: show what would be revoked, "
            "change nothing.",
        ),
    ] = False,
    json_mode: JsonOption = False,
) -> None:
    """Revoke user tokens: that workstation loses access at its next request.

    \b
    In one environment: koppel-admin tokens revoke ENV TOKEN_ID... | --user LOGIN |
      --workstation W | --all-tokens
    A lost laptop, in every environment at once (one audit entry per environment):
      koppel-admin tokens revoke --workstation NAME [--user LOGIN] [--firm F] [--dry-run]

    A workstation name is not unique: without --user, every user's workstation of that
    name is revoked (the output lists whose); give --user, or the workstation id from
    `tokens list`, to revoke one. Exit code 4 when no workstation of that name or id
    has a token in scope (nothing is changed)."""
    if code is None:
        _revoke_workstation(ctx, workstation, user, firm, all_tokens, dry_run, json_mode)
        return
    if firm is not None or dry_run:
        with reporting(json_mode):
            raise Refusal(
                "--firm and --dry-run go with --workstation and no environment "
                "(`koppel-admin tokens revoke --workstation NAME --firm F`); "
                f"leave them out to revoke in {env_code(code)} alone",
                EXIT_USAGE,
            )
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


def _revoke_workstation(
    ctx: typer.Context,
    workstation: str | None,
    user: str | None,
    firm: str | None,
    all_tokens: bool,
    dry_run: bool,
    json_mode: bool,
) -> None:
    """``tokens revoke --workstation NAME`` without an environment: everywhere at once."""
    if all_tokens or not workstation:
        with reporting(json_mode):
            raise Refusal(
                "give the environment to revoke in (`koppel-admin tokens revoke ENV "
                "TOKEN_ID...`, --user or --all-tokens), or --workstation NAME to revoke a "
                "workstation in every environment",
                EXIT_USAGE,
            )
    with unit_of_work(ctx, json_mode) as admin:
        found = admin.revoke_workstation(workstation, user, firm, dry_run=dry_run)
    if json_mode:
        out.emit_json(
            {
                "changed": found.done and found.count > 0,
                "dry_run": dry_run,
                "workstation": found.workstation,
                "login": user,
                "firm": env_code(firm) if firm else None,
                "count": found.count,
                "workstations": [{"id": i, "name": n} for i, n in found.workstations],
                "environments": [
                    {
                        "environment": env.environment.code,
                        "count": len(env.tokens),
                        "tokens": [
                            {
                                "id": v.token.public_id,
                                "login": v.account.login,
                                "connector": v.token.connector.value,
                                "workstation_id": v.token.workstation_id,
                                "workstation_name": v.token.workstation_name,
                            }
                            for v in env.tokens
                        ],
                    }
                    for env in found.environments
                ],
                "message": found.message,
            }
        )
        return
    mark = out.DONE if found.done else out.UNCHANGED
    lines = [
        f"{mark} {env.environment.code}: {plural(len(env.tokens), 'token')} "
        f"({', '.join(env.logins)})"
        for env in found.environments
    ]
    lines.append(found.message)
    if len(found.workstations) > 1 and not user:
        shown = ", ".join(f"{name} ({key})" for key, name in found.workstations)
        lines.append(
            f"That matched {len(found.workstations)} workstations: {shown}. Give --user "
            "LOGIN, or a workstation id instead of the name, to revoke only one."
        )
    if dry_run:
        lines.append("Nothing was changed (--dry-run).")
    elif found.count:
        lines.append(
            "Each agent there is refused from its next request on; to link it again, its "
            "user saves the settings again and runs `koppel link FILE` on it."
        )
    out.write("\n".join(lines))
