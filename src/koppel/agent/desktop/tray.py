"""The tray icon and its menu, drawn from :mod:`koppel.agent.desktop.tray_model`.

The menu shows what the background agent last wrote (or, without it, the states recorded
at the last check) and reads that again every few seconds, a local file and never the
network; "Check now" asks the servers in a background thread. Each action opens a window
or the received-files folder.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QApplication,
    QHeaderView,
    QMenu,
    QSystemTrayIcon,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from koppel.agent.desktop import tray_model
from koppel.agent.desktop.icon import icon
from koppel.agent.desktop.submit_window import SubmitWindow
from koppel.agent.desktop.tray_model import QueueCounts, ServerStatus, TrayMenu, shown_time
from koppel.agent.desktop.worker import Job
from koppel.agent.errors import AgentError
from koppel.i18n import gettext as _

# How often the menu rereads the background agent's status file.
REFRESH_MS = 5_000


class Tray(QObject):
    """The tray icon with its menu; ``refreshed`` after each rebuild (tests wait on it)."""

    refreshed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.menu = QMenu()
        self.icon = QSystemTrayIcon(icon(), self)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        self.model: TrayMenu | None = None
        self.windows: list[QWidget] = []  # kept referenced while open
        self._jobs: list[Job] = []
        self._servers: list[ServerStatus] = []
        self._checking = False
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)

    def start(self) -> None:
        """Show the known states, the icon, and ask the servers in the background."""
        self.refresh()
        self.icon.show()
        self._timer.start()
        self.check_now()

    def refresh(self) -> None:
        """Redraw from the status file or the recorded states (no network)."""
        if self._checking:
            return  # the check's answer is newer
        from koppel.agent.desktop.tray_sources import current

        try:
            servers = current()
        except AgentError:
            servers = []
        self.rebuild(servers)

    def rebuild(self, servers: list[ServerStatus] | None = None) -> TrayMenu:
        """Redraw the menu (and the icon's badge) from the servers and the queue."""
        from koppel.agent.desktop.tray_sources import queue_counts

        if servers is not None:
            self._servers = servers
        try:
            counts = queue_counts()
        except (OSError, AgentError):
            counts = QueueCounts()
        model = tray_model.build(self._servers, counts)
        self.model = model
        self.menu.clear()
        for line in model.lines:
            if line is tray_model.SEPARATOR:
                self.menu.addSeparator()
                continue
            action = QAction(line.text, self.menu)
            action.setEnabled(line.enabled)
            if line.tooltip:
                action.setToolTip(line.tooltip)
            if line.action:
                action.setObjectName(line.action)
                action.triggered.connect(lambda _c=False, name=line.action: self.trigger(name))
            self.menu.addAction(action)
        self.menu.setToolTipsVisible(True)
        self.icon.setIcon(icon(model.state))
        self.icon.setToolTip(model.tooltip)
        self.refreshed.emit()
        return model

    def trigger(self, action: str) -> None:
        """Do what a menu item says."""
        if action == tray_model.SEND_FILES:
            self.open_submit_window()
        elif action == tray_model.OPEN_RECEIVED:
            self.open_received_files()
        elif action == tray_model.LINKED_ENVIRONMENTS:
            self._show(EnvironmentsWindow())
        elif action == tray_model.CHECK_NOW:
            self.check_now()
        elif action == tray_model.QUIT:
            QApplication.quit()

    def open_received_files(self) -> None:
        """Open the folder received files go to (made when there is none yet)."""
        from koppel.agent.local.my_files_folder import my_files_root
        from koppel.agent.local.opener import open_file

        folder = my_files_root()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            open_file(folder)
        except OSError as exc:
            self.tell(
                _("Could not make the folder {folder} ({reason}).").format(
                    folder=folder, reason=exc
                )
            )
        except AgentError as exc:
            self.tell(exc.message)

    def tell(self, message: str) -> None:
        """A message from the tray icon (a balloon where the desktop has them)."""
        self.icon.showMessage("Koppel", message, QSystemTrayIcon.MessageIcon.Warning)

    def open_submit_window(self) -> SubmitWindow:
        """Open a new submit window."""
        window = SubmitWindow()
        self._show(window)
        return window

    def check_now(self) -> None:
        """Ask every server now (in the background); the menu follows."""
        if self._checking:
            return
        self._checking = True

        def work(_job: Job) -> list[ServerStatus]:
            from koppel.agent.desktop.tray_sources import check_now

            return check_now()

        job = Job(work)
        job.done.connect(self._checked)
        job.failed.connect(lambda _exc: self._checked(None))
        self._jobs.append(job)
        job.start()

    def _checked(self, servers: list[ServerStatus] | None) -> None:
        self._checking = False
        self._jobs = [job for job in self._jobs if job.runner and job.runner.is_alive()]
        self.rebuild(servers)

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.open_submit_window()

    def _show(self, window: QWidget) -> None:
        self.windows = [w for w in self.windows if w.isVisible()]
        self.windows.append(window)
        window.show()
        window.raise_()
        window.activateWindow()


class EnvironmentsWindow(QWidget):
    """The linked environments with their server and the state of their last check."""

    def __init__(self) -> None:
        super().__init__()
        from koppel.agent.local import state as state_mod

        self.setWindowTitle(_("Linked environments"))
        self.setWindowIcon(icon())
        envs = list(state_mod.read().state.environments.values())
        table = QTableWidget(len(envs), 5, self)
        table.setHorizontalHeaderLabels(
            [_("Code"), _("Name"), _("Server"), _("Last check"), _("State")]
        )
        for row, env in enumerate(envs):
            state = tray_model.tray_state(env.last_state)
            values = [
                env.code,
                env.name,
                tray_model.server_label(env.api_url),
                shown_time(env.last_check),
                ServerStatus(env.api_url, state).words,
            ]
            for column, value in enumerate(values):
                table.setItem(row, column, QTableWidgetItem(value))
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        layout = QVBoxLayout(self)
        layout.addWidget(table)
        self.table = table
        self.resize(720, 300)
