"""``koppel-admin integrations``: API keys of the programs that put files into users'
My files (a payroll package, a scanner), one key per integration and environment."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from koppel.server.adapters.cli.admin import output as out
from koppel.server.adapters.cli.admin.common import JsonOption, reporting, state_of

if TYPE_CHECKING:
    from koppel.server.domain.integrations import IntegrationKey

app = typer.Typer(
    help="API keys of integrations that deliver files to users' My files "
    "(POST /api/v1/environments/ENV/users/LOGIN/files with Authorization: Bearer KEY).",
    no_args_is_help=True,
)


@contextmanager
def _keys(ctx: typer.Context, json_mode: bool) -> Iterator[tuple[Any, Any, Any, str]]:
    """One unit of work: the repository, the key store, the policy and the actor."""
    state = state_of(ctx)
    with reporting(json_mode):
        svc = state.services()
        with svc.transaction() as uow:
            yield uow.core, uow.integration_keys, svc.policy, state.actor


def _as_json(key: IntegrationKey, environment: str) -> dict[str, Any]:
    return {
        "id": key.public_id,
        "environment": environment,
        "name": key.name,
        "created": key.created_at,
        "created_by": key.created_by,
        "last_used": key.last_used_at,
        "revoked": key.revoked_at,
        "revoked_by": key.revoked_by,
    }


@app.command("create")
def create(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="The environment the integration delivers in.")],
    name: Annotated[str, typer.Argument(help="The integration's name, e.g. payroll.")],
    json_mode: JsonOption = False,
) -> None:
    """Create an API key for an integration: it may deliver files to any user of the
    environment, and the audit log names it. The key is shown once; keep it in the
    integration's configuration."""
    from koppel.server.domain import integrations

    with _keys(ctx, json_mode) as (repo, keys, policy, actor):
        secret, key = integrations.create(repo, keys, policy, actor, code, name)
    environment = code.strip().upper()
    if json_mode:
        out.emit_json({**_as_json(key, environment), "key": secret})
        return
    out.write(secret)
    typer.echo(
        f"Created the API key of {key.name} in {environment} (id {key.public_id}). It is "
        "shown only now: put it in the integration's configuration. Revoke it with "
        f"`koppel-admin integrations revoke {environment} {key.name}`.",
        err=True,
    )


@app.command("list")
def listing(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    everything: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
    json_mode: JsonOption = False,
) -> None:
    """List the integration keys of an environment: id, name, created, last used."""
    from koppel.server.domain import integrations

    with _keys(ctx, json_mode) as (repo, keys, _policy, _actor):
        env, found = integrations.listing(repo, keys, code, everything)
    if json_mode:
        out.emit_json({"keys": [_as_json(k, env.code) for k in found]})
        return
    out.table(
        ["id", "name", "created", "by", "last used", "revoked"],
        [
            (k.public_id, k.name, k.created_at, k.created_by, k.last_used_at, k.revoked_at)
            for k in found
        ],
        f"integration keys of {env.code}",
    )


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    key: Annotated[str, typer.Argument(help="The integration's name or its key id.")],
    json_mode: JsonOption = False,
) -> None:
    """Revoke an integration's key: its next delivery is refused."""
    from koppel.server.domain import integrations

    with _keys(ctx, json_mode) as (repo, keys, policy, actor):
        changed, found = integrations.revoke(repo, keys, policy, actor, code, key)
    environment = code.strip().upper()
    message = (
        f"revoked the key of {found.name} in {environment}"
        if changed
        else f"the key of {found.name} in {environment} was already revoked"
    )
    if json_mode:
        out.emit_json({"changed": changed, "message": message, **_as_json(found, environment)})
        return
    out.write(message)
