"""``koppel tray``: the desktop agent's icon in the notification area, from the optional
extra ``koppel[desktop]``. Without it, one line says how to install it (exit 2)."""

from __future__ import annotations

import typer

from koppel.agent.cli.common import desktop_app, usage
from koppel.i18n import gettext as _


@usage(
    _("Show the Koppel icon in the notification area (the tray).")
    + "\n\n"
    + _(
        "Its menu shows each server's state and the submissions waiting to be sent, and has "
        '"Send files…", "Open received files", "Linked environments", "Check now" '
        "and \"Quit\". Needs the desktop extra: pip install 'koppel[desktop]'."
    ),
    "koppel tray",
)
def tray() -> None:
    raise typer.Exit(desktop_app().run_tray())
