"""``koppel items`` (search the dossier) and ``koppel open`` (open an attachment).

Light at import time: ``cli/typer_app.py`` imports this module for every command.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from koppel.agent.cli.common import ChosenEnvOption, JsonOption, note, reporting, usage
from koppel.i18n import LOCAL, format_when
from koppel.i18n import gettext as _


@usage(
    _(
        "List the dossier items you may see, newest first (filter by destination, type, "
        "subject text and creation date)."
    ),
    "koppel items --destination D0001 --type Invoice --since 2026-01-01",
)
def items(
    env: ChosenEnvOption = None,
    destination: Annotated[
        str | None, typer.Option("--destination", "-d", help=_("Only items about this code."))
    ] = None,
    type_name: Annotated[
        str | None, typer.Option("--type", "-t", help=_("Only items of this type."))
    ] = None,
    text: Annotated[
        str | None, typer.Option("--text", "-q", help=_("Text in the subject."))
    ] = None,
    since: Annotated[
        datetime | None,
        typer.Option("--since", help=_("Created on or after (YYYY-MM-DD).")),
    ] = None,
    until: Annotated[
        datetime | None, typer.Option("--until", help=_("Created before (YYYY-MM-DD)."))
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=200, help=_("Page size."))] = 50,
    offset: Annotated[int, typer.Option("--offset", min=0, help=_("Skip this many."))] = 0,
    json_output: JsonOption = False,
) -> None:
    from koppel.agent.dossier import search
    from koppel.agent.output import print_json, print_table

    with reporting(json_output):
        target, found = search(
            env,
            destination=destination,
            type_name=type_name,
            text=text,
            since=since,
            until=until,
            limit=limit,
            offset=offset,
        )
        if json_output:
            print_json(found.model_dump(mode="json"))
            return
        if not found.items:
            note(_("No items in {environment} match.").format(environment=target.env.code))
            return
        print_table(
            (
                _("ID"),
                _("CREATED"),
                _("TYPE"),
                _("DESTINATION"),
                _("SUBJECT"),
                _("FILES"),
                _("AUTHOR"),
            ),
            [
                (
                    str(i.id),
                    format_when(i.created, LOCAL),
                    i.type,
                    i.destination.code,
                    i.subject,
                    ", ".join(a.name for a in i.attachments),
                    i.author,
                )
                for i in found.items
            ],
        )
        shown = offset + len(found.items)
        if shown < found.total:
            note(
                _("Showing {first}-{last} of {total}; more with --offset {last}.").format(
                    first=offset + 1, last=shown, total=found.total
                )
            )


@usage(
    _(
        "Download an item's attachment (verified) and open it in its default program. A "
        "bar shows the download on a terminal."
    ),
    "koppel open 1234 --attachment invoice.pdf",
)
def open_(
    item: Annotated[
        int, typer.Argument(metavar="ITEM", help=_("The item's id (see `koppel items`)."))
    ],
    env: ChosenEnvOption = None,
    attachment: Annotated[
        str | None,
        typer.Option("--attachment", "-a", help=_("Attachment name (default: the newest).")),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    from koppel.agent import timings
    from koppel.agent.cli.download_bar import download_bar
    from koppel.agent.opening import open_item
    from koppel.agent.output import print_json

    timings.mark("start-up")  # until the command's code is loaded

    with reporting(json_output):
        with download_bar(json_output):
            opened = open_item(env, item, attachment)
        if json_output:
            print_json(opened.as_json())
        else:
            typer.echo(str(opened.path))
            note(
                _("Opened {attachment} (version {version}) of item {item}.").format(
                    attachment=opened.attachment, version=opened.version, item=item
                )
            )
