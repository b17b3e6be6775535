"""``koppel-admin check``: which steps of the set-up procedure are done or missing.

A command of the root app (no group): ``app.py`` registers :func:`check`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from koppel.server.adapters.cli.admin import output as out
from koppel.server.adapters.cli.admin.common import (
    EXIT_INCOMPLETE,
    JsonOption,
    reporting,
    state_of,
    unit_of_work,
)

NO_ENVIRONMENTS = (
    "this database holds no environments: {database}. If that is not the database you "
    "meant, check --data-dir (KOPPEL_DATA_DIR) or --database-url (KOPPEL_DATABASE_URL); "
    "else create the firm first: koppel-admin env create CODE --name NAME --kind firm"
)


def check(
    ctx: typer.Context,
    codes: Annotated[list[str] | None, typer.Argument(help="Environment codes.")] = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Every environment (also the default).")
    ] = False,
    missing_only: Annotated[
        bool, typer.Option("--missing-only", help="Print only incomplete environments.")
    ] = False,
    no_probe: Annotated[
        bool,
        typer.Option(
            "--no-probe",
            help="Do not ask the recorded addresses whether they reach this server "
            "(when this computer cannot reach them the way employees' computers do).",
        ),
    ] = False,
    json_mode: JsonOption = False,
) -> None:
    """Check the set-up procedure of environments (the named ones, else all): every step
    done (✓) or missing (✗), with the exact command that fixes a missing one. Each
    recorded address is asked whether it answers as this server (GET /api/v1/info, 5 s
    at most). Exits 3 when anything is missing, and when there are no environments."""
    from koppel.server.adapters.address_probe import probe_addresses
    from koppel.server.domain.setup.procedure import check_environments

    if codes and everything:
        raise typer.BadParameter("name environments (ENV...) or give --all, not both")
    everything = not codes
    state = state_of(ctx)
    with reporting(json_mode):
        # Read before the command's transaction: on SQLite a second one would wait for it.
        identity = state.services().host_id
    with unit_of_work(ctx, json_mode) as admin:
        if admin.templates is None:
            raise RuntimeError("unit_of_work gives every store")
        checks = check_environments(
            admin.repo,
            admin.policy,
            None if everything else codes,
            None if no_probe else lambda urls: probe_addresses(urls, identity),
            catalogs=admin.templates,
        )
    if not checks:
        message = NO_ENVIRONMENTS.format(database=state.database_description())
        if json_mode:
            out.emit_json(out.check_json(checks, missing_only) | {"message": message})
        typer.echo(f"error: {message}", err=True)
        raise typer.Exit(EXIT_INCOMPLETE)
    if json_mode:
        out.emit_json(out.check_json(checks, missing_only))
    else:
        out.write(out.check_text(checks, missing_only))
    if not all(c.complete for c in checks):
        raise typer.Exit(EXIT_INCOMPLETE)
