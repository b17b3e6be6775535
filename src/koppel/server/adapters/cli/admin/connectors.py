"""``koppel-admin connector``: app connectors of an environment, blocked or open."""

from __future__ import annotations

from typing import Annotated

import typer

from koppel.server.adapters.cli.admin import output as out
from koppel.server.adapters.cli.admin.common import JsonOption, env_code, unit_of_work
from koppel.server.adapters.cli.admin.output import Done
from koppel.server.domain.model import ConnectorName

app = typer.Typer(
    help="App connectors (communication-center, temporary-office-access); each starts blocked.",
    no_args_is_help=True,
)


ConnectorArg = Annotated[
    ConnectorName,
    typer.Argument(help="communication-center (default) or temporary-office-access."),
]


@app.command("block")
def connector_block(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    name: ConnectorArg = ConnectorName.COMMUNICATION_CENTER,
    json_mode: JsonOption = False,
) -> None:
    """Block an app connector: linked agents lose access to the environment."""
    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(env_code(code), admin.set_connector_blocked(code, name, True))]
    out.show_outcomes(done, json_mode)


@app.command("unblock")
def connector_unblock(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    name: ConnectorArg = ConnectorName.COMMUNICATION_CENTER,
    json_mode: JsonOption = False,
) -> None:
    """Open an app connector (each starts blocked)."""
    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(env_code(code), admin.set_connector_blocked(code, name, False))]
    out.show_outcomes(done, json_mode)


@app.command("list")
def connector_list(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    json_mode: JsonOption = False,
) -> None:
    """List an environment's app connectors and whether each is blocked."""
    from koppel.server.domain import lookups

    with unit_of_work(ctx, json_mode) as admin:
        env = lookups.environment(admin.repo, code)
        found = sorted(admin.repo.connectors([env.id]), key=lambda c: c.name.value)
    if json_mode:
        out.emit_json(
            {
                "environment": env.code,
                "connectors": [{"name": c.name.value, "blocked": c.blocked} for c in found],
            }
        )
        return
    out.table(
        ["connector", "state"],
        [(c.name.value, "blocked" if c.blocked else "open") for c in found],
        f"connectors of {env.code}",
    )
