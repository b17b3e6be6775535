"""The root of ``koppel``: ``--version``, ``-q``/``-v`` and ``koppel version``."""

from __future__ import annotations

from typing import Annotated

import typer

from koppel.agent.cli import verbosity
from koppel.agent.cli.common import JsonOption, usage
from koppel.agent.output import print_json
from koppel.agent.version import AGENT_UPDATE_TEXT, VERSION
from koppel.i18n import gettext as _


def _version_callback(value: bool) -> None:
    if value:
        # untranslated: the version line scripts read, as the fast path in cli/__init__.py
        typer.echo(f"koppel {VERSION} (update {AGENT_UPDATE_TEXT})")
        raise typer.Exit()


def main_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help=_("Show the version.")
        ),
    ] = False,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet",
            "-q",
            help=_("Say only errors (results and --json still go to stdout)."),
        ),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            "-v",
            help=_("Also say what is done: the server addresses, each request, the time taken."),
        ),
    ] = False,
) -> None:
    """Koppel agent: link this workstation to your environments and check the links."""
    # ``cli.main`` has set the level from the command line already; this is for callers
    # of the Typer application itself (tests).
    if quiet:
        verbosity.set_level(verbosity.QUIET)
    elif verbose:
        verbosity.set_level(verbosity.VERBOSE)


@usage(
    _("Show the agent's version and its update (the environments' update it works with)."),
    "koppel version --json",
)
def version(json_output: JsonOption = False) -> None:
    if json_output:
        print_json({"version": VERSION, "update": AGENT_UPDATE_TEXT})
    else:
        # untranslated: the version line scripts read, as `koppel --version` prints it
        typer.echo(f"koppel {VERSION} (update {AGENT_UPDATE_TEXT})")
