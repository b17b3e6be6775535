"""``koppel files`` (My files) and ``koppel analyses request``.

Light at import time: ``cli/typer_app.py`` imports this module for every command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from koppel.agent.cli.common import (
    ChosenEnvOption,
    JsonOption,
    described,
    note,
    reporting,
    usage,
)
from koppel.agent.words import word
from koppel.i18n import LOCAL, format_when
from koppel.i18n import gettext as _

my_files_app = typer.Typer(
    help=described(
        _(
            "My files: files made for you (analyses, integrations). Without a command: list "
            "them (id, name, state, size, created, delivered here)."
        ),
        "koppel files --env F10001",
    ),
    invoke_without_command=True,
)
analyses_app = typer.Typer(
    help=described(
        _("Analyses: ask for a file that arrives in My files."),
        "koppel analyses request --destination D0001 --wait",
    ),
    no_args_is_help=True,
)


def _size(value: int | None) -> str:
    from koppel.protocol.sizes import format_size

    return "" if value is None else format_size(value)


@my_files_app.callback()
def my_files_list(
    ctx: typer.Context, env: ChosenEnvOption = None, json_output: JsonOption = False
) -> None:
    if ctx.invoked_subcommand is not None:
        return
    from koppel.agent.my_files import list_my_files
    from koppel.agent.output import print_json, print_table

    with reporting(json_output):
        target, found = list_my_files(env)
        if json_output:
            print_json([f.model_dump(mode="json") for f in found])
            return
        if not found:
            note(
                _("No files in your My files of {environment}.").format(environment=target.env.code)
            )
            return
        print_table(
            (_("ID"), _("NAME"), _("STATE"), _("SIZE"), _("CREATED"), _("HERE")),
            [
                (
                    str(f.id),
                    f.name,
                    word(f.state) + (f" ({_(f.error)})" if f.error else ""),
                    _size(f.size),
                    format_when(f.created, LOCAL),
                    _("yes") if f.delivered else "",
                )
                for f in found
            ],
        )


@my_files_app.command("get")
@usage(
    _("Download a ready file and verify its SHA-256. A bar shows the download on a terminal."),
    "koppel files get 42 -o ~/Documents/",
)
def files_get(
    file_id: Annotated[
        int, typer.Argument(metavar="FILE_ID", help=_("The file's id (see `koppel files`)."))
    ],
    env: ChosenEnvOption = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            help=_(
                "File or folder; default: `~/Downloads/Koppel/<environment name>/` "
                "(`KOPPEL_DOWNLOADS_DIR`), where `koppel watch` puts files."
            ),
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    from koppel.agent.cli.download_bar import download_bar
    from koppel.agent.my_files import get_my_file
    from koppel.agent.output import print_json

    with reporting(json_output):
        with download_bar(json_output):
            path = get_my_file(env, file_id, output)
        if json_output:
            print_json({"file": str(path)})
        else:
            typer.echo(str(path))


@analyses_app.command("request")
@usage(
    _("Ask for the dossier overview (.xlsx); it arrives in My files (and `koppel watch`)."),
    "koppel analyses request --destination D0001 --wait",
)
def analyses_request(
    env: ChosenEnvOption = None,
    destination: Annotated[
        str | None, typer.Option("--destination", "-d", help=_("Only items about this code."))
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help=_("Wait until the file is made."))] = False,
    json_output: JsonOption = False,
) -> None:
    from koppel.agent.output import print_json

    with reporting(json_output):
        from koppel.agent.errors import AgentError
        from koppel.agent.my_files import request_analysis

        target, accepted, file = request_analysis(env, destination, wait)
        if json_output:
            print_json(
                {
                    "file_id": accepted.file_id,
                    "state": file.state if file else accepted.state,
                    "file": file.model_dump(mode="json") if file else None,
                }
            )
        elif file is None:
            note(
                _("Requested: file {id} is pending in My files of {environment}.").format(
                    id=accepted.file_id, environment=target.env.code
                )
            )
            typer.echo(str(accepted.file_id))
        else:
            typer.echo(str(accepted.file_id))
            note(
                _("File {id} ({name}) is {state}.").format(
                    id=file.id, name=file.name, state=word(file.state)
                )
            )
        if file is not None and file.state == "failed":
            raise AgentError(_("The analysis failed: {reason}").format(reason=file.error))
