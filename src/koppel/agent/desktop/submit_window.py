"""The submit window: files (dropped, added or given on the command line), environment,
destination, item type and subject, then Send, with a progress bar per file.

It runs the very use cases of ``koppel submit`` (same checks, same refusals in the same
words, same queue when the server cannot be reached), each in a background thread: the
window never waits on the network.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from koppel.agent.desktop.icon import icon
from koppel.agent.desktop.worker import Job
from koppel.agent.errors import AgentError
from koppel.i18n import format_number, ngettext
from koppel.i18n import gettext as _

if TYPE_CHECKING:
    from koppel.agent.submit_choices import LoadedChoices
    from koppel.agent.submitting import Outcome

_ERROR_STYLE = "color: #b3261e;"
_LABEL_SEPARATOR = " — "


def _searchable(combo: QComboBox) -> None:
    """Let the user type part of a code or name to find it in a long list."""
    combo.setEditable(True)
    combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
    completer = QCompleter(combo.model(), combo)
    completer.setFilterMode(Qt.MatchFlag.MatchContains)
    completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
    completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
    combo.setCompleter(completer)


@dataclass(frozen=True)
class Prefill:
    """What the command line gave with ``--gui``: chosen in the window, still changeable."""

    environment: str | None = None
    destination: str | None = None
    item_type: str | None = None
    subject: str | None = None


def _choose(combo: QComboBox, value: str | None) -> None:
    """Select ``value`` (by code), or type it in when the list lacks it (offline lists)."""
    if not value:
        return
    index = combo.findData(value)
    if index >= 0:
        combo.setCurrentIndex(index)
    else:
        combo.setEditText(value)


def _value(combo: QComboBox) -> str:
    """The code chosen in a searchable list, or what was typed (its code part)."""
    text = combo.currentText().strip()
    index = combo.findText(text)
    if index >= 0 and combo.itemData(index):
        return str(combo.itemData(index))
    return text.split(_LABEL_SEPARATOR)[0].strip()


def _size(size: int) -> str:
    """A file size as people read it (1,000-based, as file managers show it)."""
    if size < 1000:
        return ngettext("{n} byte", "{n} bytes", size).format(n=size)
    value, unit = size / 1000, "KB"
    for bigger in ("MB", "GB"):
        if value < 1000:
            break
        value, unit = value / 1000, bigger
    # 1,5 MB in Dutch and French: the language's decimal separator.
    return f"{format_number(round(value, 1))} {unit}"


def _label(code: str, name: str) -> str:
    return f"{code}{_LABEL_SEPARATOR}{name}" if name and name != code else code


class SubmitWindow(QWidget):
    """The "Send files" window."""

    # The submission's end: the use case's Outcome, or the AgentError that refused it.
    finished = Signal(object)
    # The choices of the environment are in (or could not be loaded): tests wait on it.
    choices_loaded = Signal()
    shown = Signal()

    def __init__(self, files: list[Path] | None = None, prefill: Prefill | None = None) -> None:
        super().__init__()
        self._prefill = prefill or Prefill()
        self._notice = ""  # a refusal of the prefill, kept shown once the lists are in
        self.setWindowTitle(_("Send files to Koppel"))
        self.setWindowIcon(icon())
        self.setAcceptDrops(True)
        self.resize(640, 520)
        self._files: list[Path] = []
        self._bars: list[QProgressBar] = []
        self._jobs: list[Job] = []  # kept referenced while their threads run
        self._subject_typed = False
        self._sending = False
        self._build()
        self.add_files(files or [])
        if self._prefill.subject:
            self.subject.setText(self._prefill.subject)
            self._subject_typed = True
        self._load_environments()

    # -- layout ------------------------------------------------------------------------------

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(_("Files (drag them here, or click Add files…):")))
        self.file_list = QTreeWidget()
        self.file_list.setHeaderLabels([_("File"), _("Size"), _("Sent")])
        self.file_list.setRootIsDecorated(False)
        self.file_list.setAcceptDrops(False)  # drops go to the window
        header = self.file_list.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.resizeSection(2, 160)
        header.setStretchLastSection(False)
        layout.addWidget(self.file_list, 1)
        row = QHBoxLayout()
        self.add_button = QPushButton(_("Add files…"))
        self.add_button.clicked.connect(self._choose_files)
        self.remove_button = QPushButton(_("Remove"))
        self.remove_button.clicked.connect(self._remove_selected)
        row.addWidget(self.add_button)
        row.addWidget(self.remove_button)
        row.addStretch(1)
        layout.addLayout(row)

        form = QFormLayout()
        self.environment = QComboBox()
        _searchable(self.environment)
        self.environment.currentIndexChanged.connect(self._environment_changed)
        self.destination = QComboBox()
        _searchable(self.destination)
        self.item_type = QComboBox()
        _searchable(self.item_type)
        self.subject = QLineEdit()
        self.subject.textEdited.connect(self._subject_edited)
        form.addRow(_("Environment:"), self.environment)
        form.addRow(_("Destination:"), self.destination)
        form.addRow(_("Item type:"), self.item_type)
        form.addRow(_("Subject:"), self.subject)
        layout.addLayout(form)

        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.send_button = QPushButton(_("Send"))
        self.send_button.setDefault(True)
        self.send_button.clicked.connect(self.send)
        self.cancel_button = QPushButton(_("Cancel"))
        self.cancel_button.clicked.connect(self.close)
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.cancel_button)
        layout.addLayout(buttons)

    def showEvent(self, event: QShowEvent) -> None:
        """Tell the benchmark (and whoever listens) that the window is on screen."""
        super().showEvent(event)
        self.shown.emit()

    # -- files -------------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        """Accept files dragged from a file manager or a mail program."""
        if event.mimeData().hasUrls() and not self._sending:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        """Add the dropped files (local ones; folders are refused in words)."""
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        self.add_files(paths)
        event.acceptProposedAction()

    def _choose_files(self) -> None:
        names, _filter = QFileDialog.getOpenFileNames(self, _("Add files to send"))
        self.add_files([Path(name) for name in names])

    def add_files(self, paths: list[Path]) -> None:
        """Add files to the list (a folder or a file already there is skipped)."""
        skipped: list[str] = []
        for path in paths:
            path = path.expanduser().absolute()
            if path in self._files:
                continue
            if path.is_dir():
                skipped.append(path.name)
                continue
            self._files.append(path)
            try:
                size = _size(path.stat().st_size)
            except OSError:
                size = _("unreadable")
            item = QTreeWidgetItem([path.name, size, ""])
            item.setToolTip(0, str(path))
            self.file_list.addTopLevelItem(item)
            bar = QProgressBar()
            bar.setRange(0, 100)
            bar.setValue(0)
            self.file_list.setItemWidget(item, 2, bar)
            self._bars.append(bar)
        if skipped:
            self._say(
                _("Folders cannot be sent ({folders}): add the files inside them.").format(
                    folders=", ".join(skipped)
                ),
                error=True,
            )
        self._default_subject()

    def _remove_selected(self) -> None:
        if self._sending:
            return
        for item in self.file_list.selectedItems():
            index = self.file_list.indexOfTopLevelItem(item)
            self.file_list.takeTopLevelItem(index)
            del self._files[index]
            del self._bars[index]
        self._default_subject()

    def files(self) -> list[Path]:
        """The files listed, in order."""
        return list(self._files)

    def _subject_edited(self, _text: str) -> None:
        self._subject_typed = True

    def _default_subject(self) -> None:
        """An e-mail's own subject (.eml or Outlook .msg, as ``koppel submit`` takes it),
        else one from the file names, until the user types one."""
        if self._subject_typed:
            return
        from koppel.agent.mail_files import MAIL_SUFFIXES, mail_header
        from koppel.agent.submitting import default_subject

        subject = ""
        emails = [p for p in self._files if p.suffix.lower() in MAIL_SUFFIXES]
        if emails:
            subject = mail_header(emails[0])[0] or ""
        if not subject and self._files:
            subject = default_subject(self._files)
        self.subject.setText(subject)

    # -- environment, destination, item type -------------------------------------------------

    def _load_environments(self) -> None:
        from koppel.agent.submit_choices import environments

        try:
            found = environments()
        except AgentError as exc:
            self._say(exc.message, error=True)
            return
        self.environment.blockSignals(True)
        for env in found:
            self.environment.addItem(env.label, env.code)
        self.environment.blockSignals(False)
        if not found:
            self._say(_("No environment is linked yet. Link one with `koppel link FILE`."), True)
            self.send_button.setEnabled(False)
            return
        wanted = self._prefill.environment
        index = self.environment.findData(wanted) if wanted else 0
        if index < 0:
            self._notice = _(
                "{environment} is not linked on this computer: choose one of the environments "
                "listed, or link it first with `koppel link FILE`."
            ).format(environment=wanted)
            index = 0
        self.environment.setCurrentIndex(index)
        self._environment_changed(index)

    def environment_code(self) -> str:
        """The environment chosen."""
        return _value(self.environment)

    def _environment_changed(self, _index: int) -> None:
        code = self.environment_code()
        if not code:
            return
        self.destination.clear()
        self.item_type.clear()
        self._say(
            _("Loading the destinations and item types of {environment}…").format(environment=code)
        )

        def work(_job: Job) -> LoadedChoices:
            from koppel.agent.submit_choices import load_choices

            return load_choices(code)

        self._run(work, lambda result: self._choices_in(code, result), self._choices_failed)

    def _choices_in(self, code: str, loaded: LoadedChoices) -> None:
        if code != self.environment_code():
            return  # the user chose another one meanwhile
        for dest_code, name in loaded.choices.destinations:
            self.destination.addItem(_label(dest_code, name), dest_code)
        for name in loaded.choices.types:
            self.item_type.addItem(name, name)
        # What `koppel submit --gui --to … --type …` said, once, in the environment it named.
        if code == (self._prefill.environment or code):
            _choose(self.destination, self._prefill.destination)
            _choose(self.item_type, self._prefill.item_type)
            self._prefill = replace(self._prefill, destination=None, item_type=None)
        if loaded.offline:
            from koppel.agent.desktop.tray_model import shown_time

            if loaded.choices.fetched:
                said = _(
                    "The server of {environment} cannot be reached now: the lists are those of "
                    "{when}. What you send is queued and sent as soon as the server can be "
                    "reached."
                ).format(environment=code, when=shown_time(loaded.choices.fetched))
            else:
                said = _(
                    "The server of {environment} cannot be reached now: type the destination "
                    "code and the item type. What you send is queued and sent as soon as the "
                    "server can be reached."
                ).format(environment=code)
            self._say(said)
        else:
            self._say(self._notice, error=bool(self._notice))
        self.choices_loaded.emit()

    def _choices_failed(self, exc: AgentError) -> None:
        self._say(exc.message, error=True)
        self.choices_loaded.emit()

    # -- sending -----------------------------------------------------------------------------

    def send(self) -> None:
        """Check what is filled in, then submit in the background."""
        if self._sending:
            return
        code = self.environment_code()
        destination = _value(self.destination)
        type_name = _value(self.item_type)
        missing = [
            what
            for what, value in (
                (_("the files to send (drag them here or click Add files…)"), self._files),
                (_("an environment"), code),
                (_("a destination"), destination),
                (_("an item type"), type_name),
            )
            if not value
        ]
        if missing:
            # Translators: {missing} is a list such as "an environment, a destination".
            self._say(_("Choose {missing}.").format(missing=", ".join(missing)), error=True)
            return
        files = list(self._files)
        subject = self.subject.text().strip() or None
        self._busy(True)
        for bar in self._bars:
            bar.setValue(0)
        self._say(
            ngettext(
                "Sending {n} file to {environment}…",
                "Sending {n} files to {environment}…",
                len(files),
            ).format(n=len(files), environment=code)
        )

        def work(job: Job) -> Outcome:
            from koppel.agent.submit_choices import remember_environment
            from koppel.agent.submitting import submit

            outcome = submit(
                files,
                destination=destination,
                type_name=type_name,
                subject=subject,
                env=code,
                progress=False,
                on_progress=job.progress.emit,
            )
            remember_environment(code)
            return outcome

        job = self._run(work, self._sent, self._refused)
        job.progress.connect(self._progress)

    def _progress(self, index: int, done: int, size: int) -> None:
        if 0 <= index < len(self._bars):
            self._bars[index].setValue(100 if size <= 0 else int(done * 100 / size))

    def _sent(self, outcome: Outcome) -> None:
        result = outcome.result
        self._sending = False
        if result.state == "sent":
            for bar in self._bars:
                bar.setValue(100)
            number = (result.item or {}).get("id", "")
            self._say(
                _("Sent: item {number} created in {environment}.").format(
                    number=number, environment=result.environment
                )
            )
            self._finish()
        elif result.state == "queued":
            self._say(
                _(
                    "The server of {environment} cannot be reached now: the files are queued "
                    "and sent as soon as it can be reached (`koppel queue` shows them)."
                ).format(environment=result.environment)
            )
            self._finish()
        else:
            self._say(
                _(
                    "Refused: {reason} The submission stays in the queue; "
                    "`koppel queue cancel {id}` removes it."
                ).format(reason=result.message, id=result.id[:8]),
                error=True,
            )
            self._busy(False)
        self.finished.emit(outcome)

    def _refused(self, exc: AgentError) -> None:
        self._sending = False
        self._busy(False)
        self._say(exc.message, error=True)
        self.finished.emit(exc)

    def _finish(self) -> None:
        """Sent or queued: nothing left to do here but close."""
        self._busy(True)
        self.send_button.hide()
        self.cancel_button.setText(_("Close"))
        self.cancel_button.setEnabled(True)

    # -- helpers -----------------------------------------------------------------------------

    def _busy(self, busy: bool) -> None:
        self._sending = busy
        for widget in (
            self.add_button,
            self.remove_button,
            self.environment,
            self.destination,
            self.item_type,
            self.subject,
            self.send_button,
            self.cancel_button,
        ):
            widget.setEnabled(not busy)

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setStyleSheet(_ERROR_STYLE if error else "")
        self.status.setText(text)

    def message(self) -> str:
        """The status line's text (what the user reads)."""
        return self.status.text()

    def _run(self, work: Any, done: Any, failed: Any) -> Job:
        # No Qt parent: a window closed while the job runs must not delete the object the
        # thread still emits on (the closed window's connections simply end).
        job = Job(work)
        job.done.connect(done)
        job.failed.connect(failed)
        self._jobs.append(job)
        job.done.connect(lambda _r: self._jobs.remove(job))
        job.failed.connect(lambda _e: self._jobs.remove(job))
        job.start()
        return job
