"""``koppel update check`` and ``koppel update install``: a newer release of this agent's
update, offered by the linked servers."""

from __future__ import annotations

import typer

from koppel.agent.cli.common import JsonOption, described, note, reporting, usage
from koppel.agent.exit_codes import ExitCode
from koppel.agent.output import print_json
from koppel.i18n import gettext as _

update_app = typer.Typer(
    help=described(
        _("Check for a newer release of this agent and install it; links are kept."),
        "koppel update check",
    ),
    no_args_is_help=True,
)


@update_app.command("check")
@usage(
    _("Ask each linked server once whether a newer release of this agent's update exists.")
    + "\n\n"
    + _(
        "Only releases of the agent's own update are offered: moving to another update is "
        "what `koppel doctor` explains. Exits 13 when a newer release is available, 4 when "
        "no server could be asked."
    ),
    "koppel update check --json",
)
def check(json_output: JsonOption = False) -> None:
    with reporting(json_output):
        from koppel.agent import updating

        result = updating.check()
        if json_output:
            print_json(result.as_json())
        else:
            for server, problem in result.problems.items():
                note(f"{server}: {problem}")
            for server in result.no_release:
                note(_("{server}: offers no agent release to compare with.").format(server=server))
            typer.echo(updating.summary(result))
        if result.available is not None:
            raise typer.Exit(int(ExitCode.UPDATE_AVAILABLE))
        if result.problems and not result.asked:
            raise typer.Exit(int(ExitCode.UNREACHABLE))


@update_app.command("install")
@usage(
    _(
        "Download the newer release from the server, verify its SHA-256 and install it into "
        "this agent's own environment (with pipx when pipx installed the agent, else pip)."
    )
    + "\n\n"
    + _(
        "Your linked environments, tokens and queued submissions stay as they are. Nothing "
        "is installed when the agent is up to date."
    ),
    "koppel update install",
)
def install(json_output: JsonOption = False) -> None:
    with reporting(json_output):
        from koppel.agent import updating

        say = (lambda _line: None) if json_output else note
        outcome = updating.install(say)
        if json_output:
            print_json(outcome.as_json())
        elif outcome.version is None:
            typer.echo(
                _("Koppel {version} is up to date; nothing to install.").format(
                    version=outcome.previous
                )
            )
        else:
            typer.echo(
                _(
                    "Koppel {version} is installed (you had {previous}). Your linked "
                    "environments are kept."
                ).format(version=outcome.version, previous=outcome.previous)
            )
