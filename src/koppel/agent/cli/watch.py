"""``koppel watch``: receive My files as they become ready."""

from __future__ import annotations

from typing import Annotated

import typer

from koppel.agent.cli.common import JsonOption, reporting, usage
from koppel.i18n import gettext as _


@usage(
    _("Receive My files as they become ready, until stopped (Ctrl+C).")
    + "\n\n"
    + _(
        "One connection per server for all its linked environments. Files go to "
        "`~/Downloads/Koppel/<environment name>/` (`KOPPEL_DOWNLOADS_DIR` to change), "
        'verified, each once; then a desktop notification (a "notification:" log line '
        "without a desktop). Revoked links, converted environments and blocked connectors "
        "are shown as they happen. A file that cannot be saved is reported, skipped and "
        "tried again later (10 s, doubling to 15 minutes, and at every start), so it never "
        "holds up the others."
    )
    + "\n\n"
    + _(
        "With --json, stdout has one JSON object per line for each event (JSON Lines: "
        "`event` is `connected`, `file_received`, `connection_lost` or "
        "`environment_dropped`); the log lines go to stderr."
    ),
    "koppel watch --env F10001",
    "koppel watch --json | jq -r 'select(.event == \"file_received\") | .path'",
)
def watch(
    env: Annotated[
        list[str] | None,
        typer.Option("--env", help=_("Follow only this environment (repeatable).")),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    # With --json a refusal is a JSON line too (``error``), then the usual sentence.
    with reporting(False):
        from koppel.agent.watching import run

        if not json_output:
            raise typer.Exit(run(env or None))
        from koppel.agent.cli.watch_events import JsonLines, emit, log_to_stderr
        from koppel.agent.errors import AgentError

        try:
            code = run(env or None, log_to_stderr, observer=JsonLines())
        except AgentError as exc:
            emit("error", error=exc.as_json())
            raise
        raise typer.Exit(code)
