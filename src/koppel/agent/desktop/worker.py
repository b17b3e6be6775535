"""Running the agent's use cases off the GUI thread: a network call or an upload in a
plain thread, its result or error handed back to the window through Qt signals (queued
to the GUI thread, since the receiving object lives there)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from koppel.agent.errors import AgentError
from koppel.i18n import gettext as _


class Job(QObject):
    """One background call: ``done`` with its result, or ``failed`` with the AgentError
    (any other exception becomes one that says so, never a silent thread death)."""

    done = Signal(object)
    failed = Signal(object)
    progress = Signal(int, int, int)  # file index, bytes sent, file size

    def __init__(self, work: Callable[[Job], Any], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._work = work
        self.runner: threading.Thread | None = None

    def start(self) -> None:
        """Run the work in a daemon thread (a closing window never waits for the network;
        an interrupted submission stays in the queue and resumes)."""
        self.runner = threading.Thread(target=self._run, name="koppel-job", daemon=True)
        self.runner.start()

    def _run(self) -> None:
        try:
            result = self._work(self)
        except AgentError as exc:
            self.failed.emit(exc)
        except Exception as exc:  # a bug: show it rather than leave the window waiting
            self.failed.emit(
                AgentError(
                    _("Something went wrong: {error}. Please report it.").format(error=repr(exc))
                )
            )
        else:
            self.done.emit(result)
