"""``koppel update check`` and ``koppel update install``: a newer release of this agent's
update, offered by the linked servers."""

from __future__ import annotations

import typer

from koppel.agent.cli.common import JsonOption, reporting
from koppel.agent.exit_codes import ExitCode
from koppel.agent.output import note, print_json

update_app = typer.Typer(
    help="Check for a newer release of this agent and install it; links are kept.",
    no_args_is_help=True,
)


@update_app.command("check")
def check(json_output: JsonOption = False) -> None:
    """Ask each linked server once whether a newer release of this agent's update exists.

    Only releases of the agent's own update are offered: moving to another update is what
    `koppel doctor` explains. Exits 13 when a newer release is available, 4 when no server
    could be asked.

    Example: `koppel update check` says "Koppel 2026.2.1 is available (you have
    2026.2.0): run `koppel update install`."
    """
    with reporting(json_output):
        from koppel.agent import updating

        result = updating.check()
        if json_output:
            print_json(result.as_json())
        else:
            for server, problem in result.problems.items():
                note(f"{server}: {problem}")
            for server in result.no_release:
                note(f"{server}: offers no agent release to compare with.")
            typer.echo(updating.summary(result))
        if result.available is not None:
            raise typer.Exit(int(ExitCode.UPDATE_AVAILABLE))
        if result.problems and not result.asked:
            raise typer.Exit(int(ExitCode.UNREACHABLE))


@update_app.command("install")
def install(json_output: JsonOption = False) -> None:
    """Download the newer release from the server, verify its SHA-256 and install it into
    this agent's own environment (with pipx when pipx installed the agent, else pip).

    Your linked environments, tokens and queued submissions stay as they are. Nothing is
    installed when the agent is up to date.

    Example: `koppel update install`
    """
    with reporting(json_output):
        from koppel.agent import updating

        say = (lambda _line: None) if json_output else note
        outcome = updating.install(say)
        if json_output:
            print_json(outcome.as_json())
        elif outcome.version is None:
            typer.echo(f"Koppel {outcome.previous} is up to date; nothing to install.")
        else:
            typer.echo(
                f"Koppel {outcome.version} is installed (you had {outcome.previous}). "
                "Your linked environments are kept."
            )
