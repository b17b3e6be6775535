"""``koppel-admin installation``: agent packages handed out by "Save installation"."""

from __future__ import annotations

from typing import Annotated

import typer

from koppel.server.adapters.cli.admin import output as out
from koppel.server.adapters.cli.admin.common import JsonOption, Refusal, State, reporting, state_of

app = typer.Typer(help='Agent packages handed out by "Save installation".', no_args_is_help=True)


@app.command("build")
def installation_build(
    ctx: typer.Context,
    update: Annotated[
        str | None,
        typer.Option("--update", help="Update of the agent; default: the server's current."),
    ] = None,
    json_mode: JsonOption = False,
) -> None:
    """Build (or find) the agent wheel of an update, as "Save installation" hands it out,
    and print its path."""
    from koppel.protocol.updates import Update

    state: State = state_of(ctx)
    with reporting(json_mode):
        svc = state.services()
        try:
            wanted = Update.parse(update) if update else svc.policy.current_update
        except ValueError as exc:
            raise Refusal(str(exc)) from None
        if wanted not in svc.policy.supported_updates:
            hosted = " and ".join(str(u) for u in svc.policy.supported_updates)
            raise Refusal(
                f"this server hosts updates {hosted}; update {wanted} is not one of them",
                code="update_unsupported",
            )
        path = svc.packages.wheel_for(wanted)
    if json_mode:
        out.emit_json({"update": str(wanted), "path": str(path)})
        return
    out.write(str(path))
