"""``koppel-admin template``: a firm's dossier template, the destinations and item types
its client environments start with."""

from __future__ import annotations

from typing import Annotated

import typer

from koppel.server.adapters.cli.admin import output as out
from koppel.server.adapters.cli.admin.common import JsonOption, env_code, unit_of_work
from koppel.server.adapters.cli.admin.item_types import ConfidentialOption, EditableOption
from koppel.server.adapters.cli.admin.output import Done

app = typer.Typer(
    help="A firm's dossier template: the destinations and item types that `setup client` "
    "copies into a new client (one without destinations or item types yet), so that it can "
    "receive documents at once; `apply` copies it into existing clients. A copy never "
    "changes or duplicates what a client has. A destination of kind organisation stands "
    "for the client itself and takes its name. Usually: `template copy-from FIRM FIRM` (the "
    "firm's own dossier), then `template apply FIRM --all-clients`.",
    no_args_is_help=True,
)

FirmArg = Annotated[str, typer.Argument(help="The firm's environment code.")]


@app.command("show")
def template_show(ctx: typer.Context, firm: FirmArg, json_mode: JsonOption = False) -> None:
    """Show a firm's dossier template."""
    from koppel.server.domain.dossier import template as dossier_template

    with unit_of_work(ctx, json_mode) as admin:
        found = dossier_template.template_of(admin, firm)
    if json_mode:
        out.emit_json(
            {
                "firm": found.firm,
                "destinations": [
                    {"code": d.code, "name": d.name, "kind": d.kind} for d in found.destinations
                ],
                "item_types": [
                    {
                        "name": t.name,
                        "editable": t.editable,
                        "confidential": t.confidential,
                        "groups": list(t.groups),
                    }
                    for t in found.item_types
                ],
            }
        )
        return
    if found.empty:
        out.write(
            f"{found.firm} has no dossier template yet: new clients start without destinations "
            f"and item types. Take an environment's with `koppel-admin template copy-from "
            f"{found.firm} ENV`."
        )
        return
    out.table(
        ["code", "name", "kind"],
        [
            (d.code, "(the client's own name)" if d.kind == "organisation" else d.name, d.kind)
            for d in found.destinations
        ],
        f"destinations of the template of {found.firm}",
    )
    out.table(
        ["item type", "editable", "confidential", "groups"],
        [
            (t.name, t.editable, t.confidential, ", ".join(t.groups) or "(everyone)")
            for t in found.item_types
        ],
        f"item types of the template of {found.firm}",
    )


@app.command("copy-from")
def template_copy_from(
    ctx: typer.Context,
    firm: FirmArg,
    source: Annotated[
        str,
        typer.Argument(
            help="The environment whose destinations and item types become the template, "
            "e.g. the firm itself or a model client."
        ),
    ],
    json_mode: JsonOption = False,
) -> None:
    """Make the template exactly an environment's destinations and item types (with the
    names of their groups), replacing what it held. Clients keep what they have."""
    from koppel.server.domain.dossier import template as dossier_template

    with unit_of_work(ctx, json_mode) as admin:
        done = [Done(env_code(firm), dossier_template.copy_from(admin, firm, source))]
    out.show_outcomes(done, json_mode)


@app.command("add-destination")
def template_add_destination(
    ctx: typer.Context,
    firm: FirmArg,
    code: Annotated[str, typer.Argument(help="Destination code, e.g. ORG or D0001.")],
    name: Annotated[str, typer.Argument(help="Its name (organisation: the client's own).")],
    kind: Annotated[
        str,
        typer.Option(
            "--kind", help="organisation, person, debtor, creditor or employee.", show_default=False
        ),
    ],
    json_mode: JsonOption = False,
) -> None:
    """Add a destination to the template (or change the name or kind of the one with that
    code)."""
    from koppel.server.domain.dossier import template as dossier_template

    with unit_of_work(ctx, json_mode) as admin:
        outcome = dossier_template.add_destination(admin, firm, code, name, kind)
    out.show_outcomes([Done(env_code(firm), outcome)], json_mode)


@app.command("add-item-type")
def template_add_item_type(
    ctx: typer.Context,
    firm: FirmArg,
    name: Annotated[str, typer.Argument(help="Item type name, e.g. Invoice.")],
    editable: EditableOption = False,
    confidential: ConfidentialOption = False,
    group: Annotated[
        list[str] | None,
        typer.Option(
            "--group",
            "-g",
            help="Group that may use the type; repeat for several. A client that lacks the "
            "group gets it, with no members.",
        ),
    ] = None,
    json_mode: JsonOption = False,
) -> None:
    """Add an item type to the template (one of that name is left as it is)."""
    from koppel.server.domain.dossier import template as dossier_template

    with unit_of_work(ctx, json_mode) as admin:
        outcome = dossier_template.add_item_type(
            admin, firm, name, editable=editable, confidential=confidential, groups=group or ()
        )
    out.show_outcomes([Done(env_code(firm), outcome)], json_mode)


@app.command("remove")
def template_remove(
    ctx: typer.Context,
    firm: FirmArg,
    destination: Annotated[
        list[str] | None,
        typer.Option("--destination", help="Destination code to remove; repeat for several."),
    ] = None,
    item_type: Annotated[
        list[str] | None,
        typer.Option("--item-type", help="Item type name to remove; repeat for several."),
    ] = None,
    json_mode: JsonOption = False,
) -> None:
    """Remove destinations and item types from the template (clients keep their copies)."""
    from koppel.server.domain.dossier import template as dossier_template

    if not destination and not item_type:
        raise typer.BadParameter("name what to remove with --destination CODE or --item-type NAME")
    with unit_of_work(ctx, json_mode) as admin:
        outcome = dossier_template.remove(admin, firm, destination or [], item_type or [])
    out.show_outcomes([Done(env_code(firm), outcome)], json_mode)


@app.command("apply")
def template_apply(
    ctx: typer.Context,
    firm: FirmArg,
    client: Annotated[
        list[str] | None,
        typer.Option("--client", help="A client environment of the firm; repeat for several."),
    ] = None,
    all_clients: Annotated[
        bool, typer.Option("--all-clients", help="Every client environment of the firm.")
    ] = False,
    add_missing: Annotated[
        bool,
        typer.Option(
            "--add-missing",
            help="Also give clients that have destinations or item types of their own the "
            "codes and names they lack (nothing they have is changed).",
        ),
    ] = False,
    json_mode: JsonOption = False,
) -> None:
    """Copy the template into existing clients: into a client without destinations, the
    template's destinations; without item types, its item types. What a client has is
    never changed or duplicated. All clients or none: a client of another firm refuses
    the whole command."""
    from koppel.server.domain.dossier import template as dossier_template

    if bool(client) == all_clients:
        raise typer.BadParameter("name clients with --client C or give --all-clients, not both")
    with unit_of_work(ctx, json_mode) as admin:
        done = [
            Done(code, outcome)
            for code, outcome in dossier_template.apply(
                admin, firm, None if all_clients else client, add_missing=add_missing
            )
        ]
    out.show_outcomes(done, json_mode)
