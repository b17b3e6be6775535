"""``koppel watch``: receive My files as they become ready."""

from __future__ import annotations

from typing import Annotated

import typer

from koppel.agent.cli.common import reporting


def watch(
    env: Annotated[
        list[str] | None,
        typer.Option("--env", help="Follow only this environment (repeatable)."),
    ] = None,
) -> None:
    """Receive My files as they become ready, until stopped (Ctrl+C).

    One connection per server for all its linked environments. Files go to
    `~/Downloads/Koppel/<environment name>/` (`KOPPEL_DOWNLOADS_DIR` to change), verified,
    each once; then a desktop notification (a "notification:" log line without a desktop).
    Revoked links, converted environments and blocked connectors are shown as they happen.
    A file that cannot be saved is reported, skipped and tried again later (10 s, doubling
    to 15 minutes, and at every start), so it never holds up the others.
    """

    with reporting(False):
        from koppel.agent.watching import run

        raise typer.Exit(run(env or None))
