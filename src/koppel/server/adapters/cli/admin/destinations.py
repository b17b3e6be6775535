"""``koppel-admin destinations``: whom an environment's dossier items are about."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from koppel.server.adapters.cli.admin import output as out
from koppel.server.adapters.cli.admin.common import JsonOption, Refusal, env_code
from koppel.server.adapters.cli.admin.dossier_work import dossier_work
from koppel.server.adapters.cli.admin.output import Done

app = typer.Typer(
    help="Destinations of dossier items (organisation, persons, debtors, creditors, "
    "employees), imported from CSV.",
    no_args_is_help=True,
)


@app.command("import")
def destinations_import(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    csv_file: Annotated[
        Path,
        typer.Argument(
            help="CSV with rows code,name,kind (kind: organisation, person, debtor, "
            "creditor or employee; an optional header row code,name,kind); - for stdin."
        ),
    ],
    json_mode: JsonOption = False,
) -> None:
    """Add or update destinations from a CSV file. Idempotent: codes already there are
    updated when their name or kind changed, and left alone otherwise."""
    from koppel.server.domain.dossier import catalog as dossier_catalog
    from koppel.server.domain.setup.administration import Outcome

    with dossier_work(ctx, json_mode) as work:
        try:
            text = (
                sys.stdin.read()
                if str(csv_file) == "-"
                else csv_file.read_text(encoding="utf-8-sig")
            )
        except (OSError, UnicodeDecodeError) as exc:
            raise Refusal(f"cannot read {csv_file}: {exc}") from None
        added, updated, unchanged = dossier_catalog.import_destinations(
            work.repo, work.dossier, work.policy, work.actor, code, text
        )
    message = f"destinations of {env_code(code)}: {added} added, {updated} updated, "
    message += f"{unchanged} unchanged"
    done = [Done(env_code(code), Outcome(bool(added or updated), message))]
    out.show_outcomes(done, json_mode, added=added, updated=updated, unchanged=unchanged)


@app.command("list")
def destinations_list(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    json_mode: JsonOption = False,
) -> None:
    """List an environment's destinations."""
    from koppel.server.domain import lookups

    with dossier_work(ctx, json_mode) as work:
        env = lookups.environment(work.repo, code)
        found = work.dossier.destinations(env.id)
    if json_mode:
        out.emit_json(
            {
                "environment": env.code,
                "destinations": [{"code": d.code, "name": d.name, "kind": d.kind} for d in found],
            }
        )
        return
    out.table(
        ["code", "name", "kind"],
        [(d.code, d.name, d.kind) for d in found],
        f"destinations of {env.code}",
    )
