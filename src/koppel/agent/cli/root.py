"""The root of ``koppel``: ``--version`` and ``koppel version``."""

from __future__ import annotations

from typing import Annotated

import typer

from koppel.agent.cli.common import JsonOption
from koppel.agent.output import print_json
from koppel.agent.version import AGENT_UPDATE_TEXT, VERSION


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"koppel {VERSION} (update {AGENT_UPDATE_TEXT})")
        raise typer.Exit()


def main_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Show the version."
        ),
    ] = False,
) -> None:
    """Koppel agent: link this workstation to your environments and check the links."""


def version(json_output: JsonOption = False) -> None:
    """Show the agent's version and its update (the environments' update it works with)."""
    if json_output:
        print_json({"version": VERSION, "update": AGENT_UPDATE_TEXT})
    else:
        typer.echo(f"koppel {VERSION} (update {AGENT_UPDATE_TEXT})")
