"""``koppel-admin``: every step of the set-up procedure, the composite ``setup`` commands
and the ``check`` that shows what is missing.

A thin adapter: each command parses its arguments, calls the domain inside ONE unit of
work (so a refused command changes nothing) and renders the result.

The commands live in one module per command group, wired together in ``app.py``.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main() -> None:
    """Entry point of ``koppel-admin``."""
    from koppel.server.adapters.cli.admin.app import app

    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="replace")
    app()
