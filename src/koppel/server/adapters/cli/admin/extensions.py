"""``koppel-admin extensions``: the file extensions an environment accepts on upload."""

from __future__ import annotations

from typing import Annotated

import typer

from koppel.server.adapters.cli.admin import output as out
from koppel.server.adapters.cli.admin.common import JsonOption, env_code, unit_of_work
from koppel.server.adapters.cli.admin.output import Done

app = typer.Typer(
    help="Allowed file extensions per environment, checked on every upload (the agent, the "
    "portal, integrations); a file of another type is refused before any byte is kept. An "
    "environment whose list was never changed uses the default: office documents, PDF, "
    "text and CSV, XML (XBRL, XAF), images, e-mail (eml, msg), zip and 7z. Name extensions "
    "without the dot, in any case; '.' stands for names without an extension.",
    no_args_is_help=True,
)

ExtensionsArg = Annotated[
    list[str],
    typer.Argument(
        help="Extensions, e.g. qif or .QIF; several separated by spaces or commas; "
        "'.' for names without an extension.",
        show_default=False,
    ),
]


@app.command("list")
def extensions_list(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    json_mode: JsonOption = False,
) -> None:
    """List the extensions an environment accepts (and whether that is the default)."""
    from koppel.protocol.extensions import shown

    with unit_of_work(ctx, json_mode) as admin:
        found = admin.extension_allowlist(code)
    if json_mode:
        out.emit_json(
            {
                "environment": found.environment,
                "default": found.default,
                "extensions": found.ordered(),
                "risky": found.risky,
            }
        )
        return
    risky = set(found.risky)
    out.table(
        ["extension", "note"],
        [(shown(e), "runs code when opened" if e in risky else "") for e in found.ordered()],
        f"extensions accepted in {found.environment}" + (" (the default)" if found.default else ""),
    )


@app.command("allow")
def extensions_allow(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    extensions: ExtensionsArg,
    json_mode: JsonOption = False,
) -> None:
    """Accept files with these extensions (those already accepted are left as they are)."""
    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(env_code(code), admin.allow_extensions(code, extensions))]
    out.show_outcomes(done, json_mode)


@app.command("remove")
def extensions_remove(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    extensions: ExtensionsArg,
    json_mode: JsonOption = False,
) -> None:
    """Refuse files with these extensions from now on (files already there stay)."""
    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(env_code(code), admin.remove_extensions(code, extensions))]
    out.show_outcomes(done, json_mode)


@app.command("reset")
def extensions_reset(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    json_mode: JsonOption = False,
) -> None:
    """Give an environment the default list again."""
    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(env_code(code), admin.reset_extensions(code))]
    out.show_outcomes(done, json_mode)
