"""The ``koppel`` command line: a thin layer over the agent's use cases, one module per
family of commands, assembled in ``typer_app`` when a command runs.

Each command imports what it needs when it runs, so that fast commands stay fast
(``koppel envs`` with 1,000 links does not load httpx, keyring or pydantic).
"""

from __future__ import annotations

import sys
from typing import Any

from koppel.agent.cli.windowless import give_streams_when_windowless


def main() -> None:
    """Entry point of the ``koppel`` console script (and of the windowless ``koppelw``)."""
    give_streams_when_windowless()
    if sys.argv[1:] == ["--version"]:
        # The most common probe of an installation answers without loading Typer; the
        # same text as the ``--version`` option in cli/root.py.
        _print_version()
        return
    _skip_httpx_command_line()
    from koppel.agent.cli.typer_app import app_for

    app_for(sys.argv[1:])()


def _print_version() -> None:
    from koppel.agent.version import AGENT_UPDATE_TEXT, VERSION

    sys.stdout.write(f"koppel {VERSION} (update {AGENT_UPDATE_TEXT})\n")
    sys.stdout.flush()


def __getattr__(name: str) -> Any:
    """``koppel.agent.cli.app``: the Typer application, built on first use."""
    if name == "app":
        from koppel.agent.cli.typer_app import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _skip_httpx_command_line() -> None:
    """Keep httpx from loading its own command line (rich, pygments, click: a third of
    the agent's start-up) when those happen to be installed: ``import httpx`` tries
    ``httpx._main`` and carries on without it when that import fails, which a ``None`` in
    ``sys.modules`` makes it do. Only the ``koppel`` process does this, never a library
    user's."""
    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
