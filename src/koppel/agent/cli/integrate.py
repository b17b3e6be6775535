"""``koppel integrate install|uninstall|status``: "Send to Koppel" in the file manager
(Explorer's *Send to*, a Finder Quick Action, Linux's *Open With*, Nautilus scripts and
Dolphin's menu), each running ``koppel submit --gui FILES…``.

Light at import time: ``cli/typer_app.py`` imports this module for every command.
"""

from __future__ import annotations

import typer

from koppel.agent.cli.common import JsonOption, described, note, print_steps, reporting, usage
from koppel.i18n import gettext as _

integrate_app = typer.Typer(
    help=described(
        _('"Send to Koppel" in the file manager: select files, right-click, send them.'),
        "koppel integrate install",
    ),
    no_args_is_help=True,
)


def _report(action: str, json_output: bool) -> None:
    from koppel.agent.desktop_integration import send_to
    from koppel.agent.exit_codes import ExitCode

    with reporting(json_output):
        report = getattr(send_to, action)()
        print_steps(report, json_output)
        if action == "status" and not json_output:
            for entry in report.entries:
                present = _("yes") if entry.present else _("no")
                typer.echo(f"{present:3}  {entry.kind}: {entry.path}")
            typer.echo(_("Runs: {command}").format(command=report.command))
        if action == "uninstall":
            note(_('"Send to Koppel" is removed.'))
        elif report.installed:
            note(_('"Send to Koppel" is in the file manager: select files, right-click, send.'))
        else:
            note(_('"Send to Koppel" is not (fully) installed: run `koppel integrate install`.'))
            raise typer.Exit(int(ExitCode.PROBLEMS))


@integrate_app.command("install")
@usage(
    _(
        'Add "Send to Koppel" to the file manager\'s right-click menu. Windows: a shortcut '
        "in the SendTo folder (no console window opens); macOS: a Quick Action in "
        "~/Library/Services; Linux: a desktop entry (Open With), a Nautilus script and a "
        "Dolphin service menu in ~/.local/share. Each runs `koppel submit --gui FILES`. "
        "Exits 3 when a step failed (it says which)."
    ),
    "koppel integrate install",
    "koppel integrate status --json",
)
def integrate_install(json_output: JsonOption = False) -> None:
    _report("install", json_output)


@integrate_app.command("status")
@usage(
    _('Show whether "Send to Koppel" is installed for this agent; exits 3 when not.'),
    "koppel integrate status --json",
)
def integrate_status(json_output: JsonOption = False) -> None:
    _report("status", json_output)


@integrate_app.command("uninstall")
@usage(_('Remove "Send to Koppel" from the file manager.'), "koppel integrate uninstall")
def integrate_uninstall(json_output: JsonOption = False) -> None:
    _report("uninstall", json_output)
