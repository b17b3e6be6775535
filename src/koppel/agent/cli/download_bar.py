"""The progress bar of a download (``koppel open``, ``koppel files get``): the file's name,
a bar, the bytes received, the speed and the time left, as ``koppel submit`` draws its
own. Only on a terminal (stderr), never with ``--json`` or ``-q``; ``KOPPEL_PROGRESS``
hides or forces it as it does the upload bars."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from koppel.agent.cli import verbosity

if TYPE_CHECKING:
    from koppel.agent.api.content import Content


class DownloadBar:
    """One bar per download, drawn from its first chunk."""

    def __init__(self, progress: Any) -> None:
        self._progress = progress
        self._tasks: dict[int, Any] = {}

    def __call__(self, content: Content, received: int) -> None:
        task = self._tasks.get(id(content))
        if task is None:
            name = content.file_name or content.attachment_name or ""
            task = self._progress.add_task(name, total=content.length)
            self._tasks[id(content)] = task
        self._progress.advance(task, received)


@contextmanager
def download_bar(json_output: bool) -> Iterator[None]:
    """Show a bar for each download made inside, when one is wanted."""
    from koppel.agent.output import transfer_bars_wanted

    if json_output or verbosity.is_quiet() or not transfer_bars_wanted(True):
        yield
        return
    from koppel.agent.api.content import following_downloads
    from koppel.agent.output import transfer_bars

    with transfer_bars() as progress, following_downloads(DownloadBar(progress)):
        yield
