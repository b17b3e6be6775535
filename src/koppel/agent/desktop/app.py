"""Starting the desktop agent's windows: the Qt application, the tray, the submit window.

``KOPPEL_BENCH_SHOWN=1`` makes the submit window print ``shown`` on stdout once it is on
screen and quit: ``bench/gui_start.py`` times a "Send to Koppel" with it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from koppel.agent.desktop.icon import icon
from koppel.i18n import gettext as _

BENCH_ENV = "KOPPEL_BENCH_SHOWN"


def application() -> QApplication:
    """The process's Qt application (made once)."""
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    app = QApplication(sys.argv[:1])
    app.setApplicationName("Koppel")
    app.setOrganizationName("Koppel")
    app.setWindowIcon(icon())
    return app


def run_submit_window(
    files: list[Path],
    *,
    environment: str | None = None,
    destination: str | None = None,
    item_type: str | None = None,
    subject: str | None = None,
) -> int:
    """Open the submit window with ``files`` (and what the command line chose already)
    and run until it is closed."""
    from koppel.agent.desktop.submit_window import Prefill, SubmitWindow

    app = application()
    window = SubmitWindow(files, Prefill(environment, destination, item_type, subject))
    if os.environ.get(BENCH_ENV) == "1":

        def shown() -> None:
            print("shown", flush=True)
            QTimer.singleShot(0, app.quit)

        window.shown.connect(shown)
    window.show()
    return int(app.exec())


def run_tray() -> int:
    """Show the tray icon and run until "Quit"."""
    from PySide6.QtWidgets import QSystemTrayIcon

    from koppel.agent.desktop.tray import Tray

    app = application()
    app.setQuitOnLastWindowClosed(False)
    tray = Tray()
    tray.start()
    if not QSystemTrayIcon.isSystemTrayAvailable():
        # No notification area (a bare window manager): offer the window, and end with it.
        print(
            _("There is no notification area on this desktop; the send window opens instead."),
            file=sys.stderr,
        )
        app.setQuitOnLastWindowClosed(True)
        tray.open_submit_window()
    return int(app.exec())
