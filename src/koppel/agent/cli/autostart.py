"""``koppel autostart enable|disable|status``: start the background agent at login.

Light at import time: ``cli/typer_app.py`` imports this module for every command.
"""

from __future__ import annotations

import typer

from koppel.agent.cli.common import JsonOption, reporting

autostart_app = typer.Typer(
    help=(
        "Start the Koppel agent in the background when you log in (it sends queued "
        "submissions and receives files).\n\nExample: `koppel autostart enable`"
    ),
    no_args_is_help=True,
)


def _report(action: str, json_output: bool) -> None:
    from koppel.agent import autostart
    from koppel.agent.exit_codes import ExitCode
    from koppel.agent.output import note, print_json

    with reporting(json_output):
        report: autostart.AutostartReport = getattr(autostart, action)()
        if json_output:
            print_json(report.as_json())
        for done in report.done:
            note(f"Done: {done}.")
        for message in report.notes:
            note(message)
        if action == "status" and not json_output:
            typer.echo(f"Installed: {report.method or 'no'}")
            typer.echo(f"Where:     {report.location or '-'}")
            typer.echo(f"Runs:      {report.command or '-'}")
            if report.running is not None:
                typer.echo(f"Running:   {'yes' if report.running else 'no'}")
        if action == "enable":
            note("The Koppel agent now starts when you log in.")
        elif action == "disable":
            note("The Koppel agent no longer starts when you log in.")
        elif not report.installed:
            note(
                "The Koppel agent does not start at login; turn it on with "
                "`koppel autostart enable`."
            )
            raise typer.Exit(int(ExitCode.PROBLEMS))


@autostart_app.command("enable")
def autostart_enable(json_output: JsonOption = False) -> None:
    """Start the agent at every login, and now where the system can: a systemd user unit
    on Linux (else an entry in ~/.config/autostart), a LaunchAgent on macOS, a Run value
    in the registry on Windows. Running it again changes nothing.

    Example: `koppel autostart enable --json`
    """
    _report("enable", json_output)


@autostart_app.command("disable")
def autostart_disable(json_output: JsonOption = False) -> None:
    """Stop starting the agent at login: removes exactly what `enable` installed (and
    stops the agent systemd or launchd runs). Fine when nothing is installed.

    Example: `koppel autostart disable`
    """
    _report("disable", json_output)


@autostart_app.command("status")
def autostart_status(json_output: JsonOption = False) -> None:
    """Show whether the agent starts at login, how, where and what it runs. Exits 3 when
    it does not.

    Example: `koppel autostart status --json`
    """
    _report("status", json_output)
