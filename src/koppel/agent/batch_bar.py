"""One terminal bar for a submission of several files ("37 of 200 files", bytes, speed).

Several files are in flight at once, so a bar per file would stack hundreds of lines;
one overall bar says how far the submission is. Shown only on a terminal (stderr), as
the uploader's own bar of a single file: ``KOPPEL_PROGRESS=never`` hides it and
``always`` forces it (the uploader reads the same variable).
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from koppel.agent.output import transfer_bars
from koppel.i18n import ngettext


class BatchBar:
    """The overall bar; every method does nothing when it is not shown."""

    def __init__(self, files: int, total_bytes: int, *, show: bool) -> None:
        self._files = files
        self._total = total_bytes
        self._show = show
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> BatchBar:
        if self._show:
            self._progress = transfer_bars()
            self._progress.start()
            self._task = self._progress.add_task(self._label(0), total=self._total)
        return self

    def _label(self, files_done: int) -> str:
        return ngettext("{done} of {n} file", "{done} of {n} files", self._files).format(
            done=files_done, n=self._files
        )

    def update(self, files_done: int, bytes_done: int) -> None:
        """Redraw with ``files_done`` files and ``bytes_done`` bytes on the server."""
        if self._progress is not None:
            self._progress.update(
                self._task, description=self._label(files_done), completed=bytes_done
            )

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
