"""``koppel-admin item-types``: kinds of dossier items, who may use and see them."""

from __future__ import annotations

from typing import Annotated

import typer

from koppel.server.adapters.cli.admin import output as out
from koppel.server.adapters.cli.admin.common import JsonOption, env_code
from koppel.server.adapters.cli.admin.dossier_work import dossier_work
from koppel.server.adapters.cli.admin.output import Done

app = typer.Typer(
    help="Item types of an environment's dossier. A type without groups is for every user "
    "of the environment; with groups, only their members may file (and, when confidential, "
    "see) items of it.",
    no_args_is_help=True,
)


# The options of an item type, also those of a firm's template (``templates.py``).
EditableOption = Annotated[
    bool, typer.Option("--editable", help="Users may edit its attachments (koppel edit).")
]
ConfidentialOption = Annotated[
    bool, typer.Option("--confidential", help="Only members of its groups see its items.")
]


@app.command("create")
def item_types_create(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    name: Annotated[str, typer.Argument(help="Item type name, e.g. Correspondence.")],
    editable: EditableOption = False,
    confidential: ConfidentialOption = False,
    group: Annotated[
        list[str] | None,
        typer.Option("--group", "-g", help="Group that may use the type; repeat for several."),
    ] = None,
    json_mode: JsonOption = False,
) -> None:
    """Create an item type (an existing one of that name is left as it is)."""
    from koppel.server.domain.dossier import catalog as dossier_catalog
    from koppel.server.domain.setup.administration import Outcome

    with dossier_work(ctx, json_mode) as work:
        changed, found = dossier_catalog.create_item_type(
            work.repo,
            work.dossier,
            work.policy,
            work.actor,
            code,
            name,
            editable=editable,
            confidential=confidential,
            groups=group or (),
        )
    message = (
        f"item type {found.name!r} created"
        if changed
        else f"item type {found.name!r} already exists"
    )
    out.show_outcomes([Done(env_code(code), Outcome(changed, message))], json_mode)


@app.command("list")
def item_types_list(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    json_mode: JsonOption = False,
) -> None:
    """List an environment's item types with their groups."""
    from koppel.server.domain import lookups

    with dossier_work(ctx, json_mode) as work:
        env = lookups.environment(work.repo, code)
        group_names = {g.id: g.name for g in work.repo.groups(env.id)}
        rows = [
            (t.name, t.editable, t.confidential, sorted(group_names[g] for g in t.group_ids))
            for t in work.dossier.item_types(env.id)
        ]
    if json_mode:
        out.emit_json(
            {
                "environment": env.code,
                "item_types": [
                    {"name": n, "editable": e, "confidential": c, "groups": g}
                    for n, e, c, g in rows
                ],
            }
        )
        return
    out.table(
        ["item type", "editable", "confidential", "groups"],
        [
            (n, "yes" if e else "no", "yes" if c else "no", ", ".join(g) or "(everyone)")
            for n, e, c, g in rows
        ],
        f"item types of {env.code}",
    )
