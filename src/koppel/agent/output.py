"""Printing: tables (Rich on a terminal, plain columns otherwise), JSON, notes and errors.

Results go to stdout, messages to stderr. Rich is imported only when stdout is a terminal,
so that scripted use (pipes, ``--json``) stays fast with thousands of environments.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol


def print_json(data: Any) -> None:
    """Print machine-readable output on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def note(message: str) -> None:
    """A message for the user on stderr (warnings, progress, hints)."""
    sys.stderr.write(message + "\n")


def error(message: str) -> None:
    """An error sentence on stderr."""
    from koppel.i18n import gettext as _

    sys.stderr.write(_("Error: {message}").format(message=message) + "\n")


# Rich needs about 0.3 s to lay out 1,000 rows (measured: 2-core machine), which would
# make `koppel envs` feel slow; above this many rows plain columns are used on a terminal too.
RICH_MAX_ROWS = 200


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]], title: str = "") -> None:
    """A table on stdout: Rich on a terminal, aligned plain text when piped or very long."""
    if sys.stdout.isatty() and len(rows) <= RICH_MAX_ROWS:
        from rich.console import Console
        from rich.table import Table

        table = Table(*headers, title=title or None, show_lines=False)
        for row in rows:
            table.add_row(*row)
        Console().print(table)
        return
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.extend(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )
    sys.stdout.write("\n".join(lines) + "\n")


class Progress(Protocol):
    """Advance a progress display by some steps."""

    def __call__(self, steps: int = 1) -> None: ...


@contextmanager
def progress(label: str, total: int, *, minimum: int = 50) -> Iterator[Progress]:
    """A Rich progress bar on stderr when it is a terminal and the work is large enough."""
    if total < minimum or not sys.stderr.isatty():
        yield lambda steps=1: None
        return
    from rich.console import Console
    from rich.progress import Progress as RichProgress

    with RichProgress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total)

        def advance(steps: int = 1) -> None:
            bar.advance(task, steps)

        yield advance


# KOPPEL_PROGRESS=never hides the transfer bars, always draws them on any stderr.
PROGRESS_ENV = "KOPPEL_PROGRESS"


def transfer_bars_wanted(progress: bool) -> bool:
    """Whether to draw transfer bars: asked for, and stderr a terminal (or
    ``KOPPEL_PROGRESS`` says so)."""
    choice = os.environ.get(PROGRESS_ENV, "").lower()
    if choice in ("0", "never", "no"):
        return False
    return progress and (sys.stderr.isatty() or choice in ("1", "always", "yes"))


def transfer_bars() -> Any:
    """A Rich ``Progress`` on stderr with the transfer columns (bar, bytes, speed, time
    left); Rich is loaded only when a bar is drawn."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True, force_terminal=None),
    )
