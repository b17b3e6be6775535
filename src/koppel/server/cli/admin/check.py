"""``koppel-admin check``: which steps of the set-up procedure are done or missing.

A command of the root app (no group): ``app.py`` registers :func:`check`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from koppel.server.cli.admin import output as out
from koppel.server.cli.admin.common import EXIT_INCOMPLETE, JsonOption, unit_of_work


def check(
    ctx: typer.Context,
    codes: Annotated[list[str] | None, typer.Argument(help="Environment codes.")] = None,
    everything: Annotated[bool, typer.Option("--all", help="Every environment.")] = False,
    missing_only: Annotated[
        bool, typer.Option("--missing-only", help="Print only incomplete environments.")
    ] = False,
    json_mode: JsonOption = False,
) -> None:
    """Check the set-up procedure of environments: every step done (✓) or missing (✗),
    with the exact command that fixes a missing one. Exits 3 when anything is missing."""
    from koppel.server.domain.procedure import check_environments

    if bool(codes) == everything:
        raise typer.BadParameter("name environments (ENV...) or give --all, not both")
    with unit_of_work(ctx, json_mode) as admin:
        if admin.templates is None:
            raise RuntimeError("unit_of_work gives every store")
        checks = check_environments(
            admin.repo,
            admin.policy,
            None if everything else codes,
            catalogs=admin.templates,
        )
    if json_mode:
        out.emit_json(out.check_json(checks, missing_only))
    else:
        out.write(out.check_text(checks, missing_only))
    if not all(c.complete for c in checks):
        raise typer.Exit(EXIT_INCOMPLETE)
