"""``koppel handler install|status|uninstall`` (register the koppel:// link handler) and
``koppel open-link URL`` (what the desktop runs for a link: the edit of ``koppel edit``).

Light at import time: ``cli/typer_app.py`` imports this module for every command.
"""

from __future__ import annotations

from typing import Annotated

import typer

from koppel.agent.cli.common import JsonOption, described, note, print_steps, reporting, usage
from koppel.i18n import gettext as _

handler_app = typer.Typer(
    help=described(
        _('The koppel:// link handler: the portal\'s "Edit on my computer" opens the agent.'),
        "koppel handler install",
    ),
    no_args_is_help=True,
)


def _report(action: str, json_output: bool) -> None:
    from koppel.agent.desktop_integration import url_handler
    from koppel.agent.exit_codes import ExitCode

    with reporting(json_output):
        report = getattr(url_handler, action)()
        print_steps(report, json_output)
        if action == "install":
            note(
                _("koppel:// links now open with the Koppel agent.")
                if report.registered
                else _("The handler is written but not registered as the default; see above.")
            )
        elif action == "status":
            if not json_output:
                rows = [
                    (_("Registered at:"), report.as_json()["location"] or "-"),
                    (_("Runs:"), report.executable or "-"),
                    (_("Default:"), report.default_handler or "-"),
                ]
                width = max(len(label) for label, _value in rows) + 1
                for label, value in rows:
                    typer.echo(f"{label:<{width}}{value}")
            note(_("The handler is registered.") if report.registered else _("Not registered."))
        if action != "uninstall" and not report.registered:
            raise typer.Exit(int(ExitCode.PROBLEMS))


@handler_app.command("install")
@usage(
    _(
        "Register this agent for koppel:// links, so that the portal's \"Edit on my "
        'computer" opens it. Linux: a .desktop file in ~/.local/share/applications and '
        "`xdg-mime default`; Windows: keys under HKCU\\Software\\Classes\\koppel running "
        "the windowless koppelw; macOS: ~/Applications/Koppel Link Handler.app, registered "
        "with Launch Services. Exits 3 when a step is missing (it says which)."
    ),
    "koppel handler install",
    "koppel handler status --json",
)
def handler_install(json_output: JsonOption = False) -> None:
    _report("install", json_output)


@handler_app.command("status")
@usage(
    _("Show whether koppel:// links open with this agent; exits 3 when they do not."),
    "koppel handler status --json",
)
def handler_status(json_output: JsonOption = False) -> None:
    _report("status", json_output)


@handler_app.command("uninstall")
@usage(
    _(
        "Remove the koppel:// handler (the .desktop file and its default association, the "
        "registry keys or the macOS app)."
    ),
    "koppel handler uninstall",
)
def handler_uninstall(json_output: JsonOption = False) -> None:
    _report("uninstall", json_output)


@usage(
    _(
        "Open a koppel:// link: `koppel://edit?...` edits the attachment like `koppel edit "
        "ITEM --env ENV --attachment NAME` (the environment must be linked here, with the "
        "server the link names). Exits 2 for a malformed link, 9 when it is not linked."
    ),
    "koppel open-link 'koppel://edit?server=https%3A%2F%2Fkoppel.example.com&env=F10001"
    "&item=1234&attachment=report.docx'",
)
def open_link(
    url: Annotated[
        str, typer.Argument(metavar="URL", help=_("A koppel:// link, e.g. from the portal."))
    ],
    json_output: JsonOption = False,
) -> None:
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
