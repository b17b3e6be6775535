"""``koppel-admin setup``: the whole procedure applied to a firm or client environments."""

from __future__ import annotations

from typing import Annotated

import typer

from koppel.protocol.counts import counted
from koppel.server.adapters.cli.admin import output as out
from koppel.server.adapters.cli.admin.common import JsonOption, env_code, split_logins, unit_of_work
from koppel.server.adapters.cli.admin.output import Done

app = typer.Typer(
    help="Apply the whole procedure to a firm or client environments (idempotent).",
    no_args_is_help=True,
)


def _show_setup(done: list[Done], codes: list[str], json_mode: bool) -> None:
    hint = "koppel-admin check " + " ".join(codes)
    if json_mode:
        out.emit_json(out.outcomes_json(done, check=hint))
        return
    lines: list[str] = []
    current: str | None = None
    for d in done:
        if d.environment != current:
            current = d.environment
            lines.append(f"{current}")
        lines += out.outcome_lines([d], indent="  ")
    changes = sum(1 for d in done if d.outcome.changed)
    lines.append(
        f"{counted(changes, 'change')} made."
        if changes
        else "Nothing to change: every step was done."
    )
    lines.append(
        f"Check the result with: {hint if len(hint) < 200 else 'koppel-admin check --all'}"
    )
    out.write("\n".join(lines))


@app.command("firm")
def setup_firm_command(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="The firm's environment code.")],
    api_url: Annotated[
        str | None,
        typer.Option(
            "--api-url",
            help="Address agents use; default: the address koppel-server announced at its "
            "last start (its --public-url / KOPPEL_PUBLIC_URL, else where it listens).",
        ),
    ] = None,
    main_site: Annotated[
        str | None,
        typer.Option("--main-site", help="Portal address; default: this server's portal."),
    ] = None,
    json_mode: JsonOption = False,
) -> None:
    """Apply the firm set-up: API URL, own portal, portal access and the functions to save
    settings and the installation for every user, the Communication Center connector
    opened, the main site recorded. Add the firm's users first (`users add`)."""
    from koppel.server.domain.setup.apply import setup_firm

    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(env_code(code), o) for o in setup_firm(admin, code, api_url, main_site)]
    _show_setup(done, [env_code(code)], json_mode)


@app.command("client")
def setup_client_command(
    ctx: typer.Context,
    codes: Annotated[list[str], typer.Argument(help="Client environment codes.")],
    firm: Annotated[str, typer.Option("--firm", help="The managing firm's environment code.")],
    user: Annotated[
        list[str] | None,
        typer.Option(
            "--user",
            help="Firm employee who uses the agent with these clients; repeat (or "
            "comma-separate) for several. Each must be a user of the firm environment. "
            "Default, when setting up a client again: the firm's employees it has already.",
        ),
    ] = None,
    api_url: Annotated[
        str | None,
        typer.Option(
            "--api-url",
            help="Address agents use; default: the address koppel-server announced at its "
            "last start (its --public-url / KOPPEL_PUBLIC_URL, else where it listens).",
        ),
    ] = None,
    main_site: Annotated[
        str | None,
        typer.Option(
            "--main-site",
            help="Main site; default: the client's own portal, else the firm's main site.",
        ),
    ] = None,
    json_mode: JsonOption = False,
) -> None:
    """Apply the client set-up to one or more client environments, all in one transaction:
    API URL, managing firm, the employees added and authorized for My files and Save
    settings, the Communication Center connector opened, the main site recorded."""
    from koppel.server.domain.setup.apply import setup_client

    logins = split_logins(user)
    with unit_of_work(ctx, json_mode) as admin:
        done = [
            Done(env_code(code), o)
            for code in codes
            for o in setup_client(admin, code, firm, logins, api_url, main_site)
        ]
    _show_setup(done, [env_code(c) for c in codes], json_mode)
