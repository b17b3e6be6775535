"""How many files of a submission are in flight at once (``--transfers``, as rclone's).

A month of scanned receipts is hundreds of small files: one at a time, each waits for
the server's answer to the one before. A few at once keep the connection busy; more
than a handful only adds load on the server. Imports nothing, so that ``cli/`` can
declare the option without loading the sending code.
"""

from __future__ import annotations

DEFAULT_TRANSFERS = 4
MAX_TRANSFERS = 16


def transfers_problem(value: int) -> str | None:
    """Why ``value`` is no number of transfers, or None when it is one."""
    if 1 <= value <= MAX_TRANSFERS:
        return None
    from koppel.i18n import gettext as _

    return _(
        "{value} is not a number of files to send at once: choose 1 to {most} "
        "(the default is {default})."
    ).format(value=value, most=MAX_TRANSFERS, default=DEFAULT_TRANSFERS)
