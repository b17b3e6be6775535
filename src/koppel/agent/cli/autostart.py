"""``koppel autostart enable|disable|status``: start the background agent at login.

Light at import time: ``cli/typer_app.py`` imports this module for every command.
"""

from __future__ import annotations

import typer

from koppel.agent.cli.common import JsonOption, described, note, reporting, usage
from koppel.i18n import gettext as _

autostart_app = typer.Typer(
    help=described(
        _(
            "Start the Koppel agent in the background when you log in (it sends queued "
            "submissions and receives files)."
        ),
        "koppel autostart enable",
    ),
    no_args_is_help=True,
)


def _report(action: str, json_output: bool) -> None:
    from koppel.agent import autostart
    from koppel.agent.exit_codes import ExitCode
    from koppel.agent.output import print_json

    with reporting(json_output):
        report: autostart.AutostartReport = getattr(autostart, action)()
        if json_output:
            print_json(report.as_json())
        for done in report.done:
            note(_("Done: {step}.").format(step=done))
        for message in report.notes:
            note(message)
        if action == "status" and not json_output:
            rows = [
                (_("Installed:"), report.method or _("no")),
                (_("Where:"), report.location or "-"),
                (_("Runs:"), report.command or "-"),
            ]
            if report.running is not None:
                rows.append((_("Running:"), _("yes") if report.running else _("no")))
            width = max(len(label) for label, _value in rows) + 1
            for label, value in rows:
                typer.echo(f"{label:<{width}}{value}")
        if action == "enable":
            note(_("The Koppel agent now starts when you log in."))
        elif action == "disable":
            note(_("The Koppel agent no longer starts when you log in."))
        elif not report.installed:
            note(
                _(
                    "The Koppel agent does not start at login; turn it on with "
                    "`koppel autostart enable`."
                )
            )
            raise typer.Exit(int(ExitCode.PROBLEMS))


@autostart_app.command("enable")
@usage(
    _(
        "Start the agent at every login, and now where the system can: a systemd user unit "
        "on Linux (else an entry in ~/.config/autostart), a LaunchAgent on macOS, a Run "
        "value in the registry on Windows. Running it again changes nothing."
    ),
    "koppel autostart enable --json",
)
def autostart_enable(json_output: JsonOption = False) -> None:
    _report("enable", json_output)


@autostart_app.command("disable")
@usage(
    _(
        "Stop starting the agent at login: removes exactly what `enable` installed (and "
        "stops the agent systemd or launchd runs). Fine when nothing is installed."
    ),
    "koppel autostart disable",
)
def autostart_disable(json_output: JsonOption = False) -> None:
    _report("disable", json_output)


@autostart_app.command("status")
@usage(
    _(
        "Show whether the agent starts at login, how, where and what it runs. Exits 3 when "
        "it does not."
    ),
    "koppel autostart status --json",
)
def autostart_status(json_output: JsonOption = False) -> None:
    _report("status", json_output)
