"""``koppel handler install|status|uninstall`` (register the koppel:// link handler) and
``koppel open-link URL`` (what the desktop runs for a link: the edit of ``koppel edit``).

Light at import time: ``cli/typer_app.py`` imports this module for every command.
"""

from __future__ import annotations

from typing import Annotated

import typer

from koppel.agent.cli.common import JsonOption, print_steps, reporting

handler_app = typer.Typer(
    help='The koppel:// link handler: the portal\'s "Edit on my computer" opens the agent.',
    no_args_is_help=True,
)


def _report(action: str, json_output: bool) -> None:
    from koppel.agent.desktop_integration import url_handler
    from koppel.agent.exit_codes import ExitCode
    from koppel.agent.output import note

    with reporting(json_output):
        report = getattr(url_handler, action)()
        print_steps(report, json_output)
        if action == "install":
            note(
                "koppel:// links now open with the Koppel agent."
                if report.registered
                else "The handler is written but not registered as the default; see above."
            )
        elif action == "status":
            if not json_output:
                typer.echo(f"Registered at: {report.as_json()['location'] or '-'}")
                typer.echo(f"Runs:          {report.executable or '-'}")
                typer.echo(f"Default:       {report.default_handler or '-'}")
            note("The handler is registered." if report.registered else "Not registered.")
        if action != "uninstall" and not report.registered:
            raise typer.Exit(int(ExitCode.PROBLEMS))


@handler_app.command("install")
def handler_install(json_output: JsonOption = False) -> None:
    """Register this agent for koppel:// links, so that the portal's "Edit on my
    computer" opens it. Linux: a .desktop file in ~/.local/share/applications and
    `xdg-mime default`; Windows: keys under HKCU\\Software\\Classes\\koppel running the
    windowless koppelw; macOS: ~/Applications/Koppel Link Handler.app, registered with
    Launch Services. Exits 3 when a step is missing (it says which).

    Example: `koppel handler install`, then `koppel handler status --json`."""
    _report("install", json_output)


@handler_app.command("status")
def handler_status(json_output: JsonOption = False) -> None:
    """Show whether koppel:// links open with this agent; exits 3 when they do not."""
    _report("status", json_output)


@handler_app.command("uninstall")
def handler_uninstall(json_output: JsonOption = False) -> None:
    """Remove the koppel:// handler (the .desktop file and its default association, the
    registry keys or the macOS app)."""
    _report("uninstall", json_output)


def open_link(
    url: Annotated[str, typer.Argument(help="A koppel:// link, e.g. from the portal.")],
    json_output: JsonOption = False,
) -> None:
    """Open a koppel:// link: `koppel://edit?...` edits the attachment like `koppel edit
    ITEM --env ENV --attachment NAME` (the environment must be linked here, with the
    server the link names). Exits 2 for a malformed link, 9 when it is not linked."""

    with reporting(json_output):
        from koppel.agent.cli.edit import edit
        from koppel.agent.url_links import linked_target

        target = linked_target(url)
    edit(
        item=target.item,
        env=target.environment,
        attachment=target.attachment,
        finish=False,
        discard=False,
        list_sessions=False,
        json_output=json_output,
    )
