"""``koppel files`` (My files) and ``koppel analyses request``.

Light at import time: ``cli/typer_app.py`` imports this module for every command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from koppel.agent.cli.common import ChosenEnvOption, JsonOption, reporting

my_files_app = typer.Typer(
    help="My files: files made for you (analyses, integrations). Without a command: list them.",
    invoke_without_command=True,
)
analyses_app = typer.Typer(
    help="Analyses: ask for a file that arrives in My files.", no_args_is_help=True
)


def _size(value: int | None) -> str:
    from koppel.protocol.sizes import format_size

    return "" if value is None else format_size(value)


@my_files_app.callback()
def my_files_list(
    ctx: typer.Context, env: ChosenEnvOption = None, json_output: JsonOption = False
) -> None:
    """List My files: id, name, state, size, created, delivered here."""
    if ctx.invoked_subcommand is not None:
        return
    from koppel.agent.my_files import list_my_files
    from koppel.agent.output import note, print_json, print_table

    with reporting(json_output):
        target, found = list_my_files(env)
        if json_output:
            print_json([f.model_dump(mode="json") for f in found])
            return
        if not found:
            note(f"No files in your My files of {target.env.code}.")
            return
        print_table(
            ("ID", "NAME", "STATE", "SIZE", "CREATED", "HERE"),
            [
                (
                    str(f.id),
                    f.name,
                    f.state + (f" ({f.error})" if f.error else ""),
                    _size(f.size),
                    f.created.strftime("%Y-%m-%d %H:%M"),
                    "yes" if f.delivered else "",
                )
                for f in found
            ],
        )


@my_files_app.command("get")
def files_get(
    file_id: Annotated[int, typer.Argument(help="The file's id (see `koppel files`).")],
    env: ChosenEnvOption = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            help="File or folder; default: `~/Downloads/Koppel/<environment name>/` "
            "(`KOPPEL_DOWNLOADS_DIR`), where `koppel watch` puts files.",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Download a ready file and verify its SHA-256."""
    from koppel.agent.my_files import get_my_file
    from koppel.agent.output import print_json

    with reporting(json_output):
        path = get_my_file(env, file_id, output)
        if json_output:
            print_json({"file": str(path)})
        else:
            typer.echo(str(path))


@analyses_app.command("request")
def analyses_request(
    env: ChosenEnvOption = None,
    destination: Annotated[
        str | None, typer.Option("--destination", "-d", help="Only items about this code.")
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until the file is made.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Ask for the dossier overview (.xlsx); it arrives in My files (and `koppel watch`)."""
    from koppel.agent.output import note, print_json

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
            note(f"Requested: file {accepted.file_id} is pending in My files of {target.env.code}.")
            typer.echo(str(accepted.file_id))
        else:
            typer.echo(str(accepted.file_id))
            note(f"File {file.id} ({file.name}) is {file.state}.")
        if file is not None and file.state == "failed":
            raise AgentError(f"The analysis failed: {file.error}")
