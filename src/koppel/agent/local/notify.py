"""Desktop notifications for delivered files, where a desktop session exists.

On Linux a notification needs a D-Bus session bus (``DBUS_SESSION_BUS_ADDRESS``); without
one (a server, a container, an SSH session) the notification is a log line
``notification: ...``: that is the documented behaviour where no desktop exists.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from koppel.i18n import gettext as _

Log = Callable[[str], None]


def has_desktop() -> bool:
    """Whether a desktop can show notifications here."""
    if os.environ.get("KOPPEL_NO_NOTIFICATIONS"):
        return False
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DBUS_SESSION_BUS_ADDRESS"))


def file_arrived(title: str, message: str, path: Path, log: Log) -> None:
    """Notify that ``path`` arrived; clicking the notification opens it."""
    if has_desktop():
        try:
            _desktop(title, message, path)
            log(f"notified: {title}: {message}")
            return
        except Exception as exc:  # a broken desktop bus must not stop deliveries
            log(f"desktop notification failed ({type(exc).__name__}); falling back to the log")
    log(_("notification: {title}: {message}").format(title=title, message=message))


def problem(title: str, message: str, log: Log) -> None:
    """Tell the user about something that needs them (a file that could not be saved)."""
    if has_desktop():
        try:
            _desktop(title, message, None)
            log(f"notified: {title}: {message}")
            return
        except Exception as exc:  # a broken desktop bus must not stop deliveries
            log(f"desktop notification failed ({type(exc).__name__}); falling back to the log")
    log(_("notification: {title}: {message}").format(title=title, message=message))


def _desktop(title: str, message: str, path: Path | None) -> None:
    from desktop_notifier import DesktopNotifierSync

    from koppel.agent.local.opener import open_file

    notifier = DesktopNotifierSync(app_name="Koppel")
    if path is None:
        notifier.send(title=title, message=message)
    else:
        opened = path
        notifier.send(title=title, message=message, on_clicked=lambda: open_file(opened))
