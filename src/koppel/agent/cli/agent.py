"""``koppel agent run|status|stop``: the background agent (what the autostart entry runs)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from koppel.agent.cli.common import JsonOption, note, reporting, usage
from koppel.agent.exit_codes import ExitCode
from koppel.i18n import N_, ngettext
from koppel.i18n import gettext as _

if TYPE_CHECKING:
    from koppel.agent.local.status import AgentStatus

agent_app = typer.Typer(
    help=_("The background agent: receives My files and sends the offline queue by itself."),
    no_args_is_help=True,
)

_STATE_WORDS = {
    "connected": N_("connected"),
    "offline": N_("offline"),
    "token_revoked": N_("access revoked"),
    "update_mismatch": N_("another update"),
}


@agent_app.command("run")
@usage(
    _(
        "Run the background agent until stopped: what `koppel watch` does, and it sends "
        "queued submissions as soon as their server is reachable again."
    )
    + "\n\n"
    + _(
        "One per user: a second one says that one is running and exits with code 14. Its "
        "status (`koppel agent status`) is kept in `status.json` in the agent's data folder. "
        "`koppel autostart enable` starts it at login."
    ),
    "koppel agent run",
)
def run() -> None:
    with reporting(False):
        from koppel.agent.background import run as run_agent

        raise typer.Exit(run_agent())


def _when(iso: str | None) -> str:
    """A moment of status.json (ISO 8601 UTC) in this computer's time zone, as the
    language writes it."""
    if not iso:
        return _("never")
    from datetime import datetime

    from koppel.i18n import LOCAL, format_when

    try:
        return format_when(datetime.fromisoformat(iso), LOCAL)
    except ValueError:  # a status written by hand or by a future agent: show it as it is
        return iso


def _describe(status: AgentStatus | None, pid: int | None) -> list[str]:
    lines = [
        _("The background agent is running (pid {pid}).").format(pid=pid)
        if pid is not None
        else _("The background agent is running.")
    ]
    if status is None:
        return [*lines, _("It has not written its status yet.")]
    if not status.servers:
        lines.append(_("No server is followed: no environment is linked (`koppel link FILE`)."))
    for url, server in sorted(status.servers.items()):
        word = _STATE_WORDS.get(server.state)
        state = _(word) if word else server.state
        lines.append(
            _("{server}: {state}. {detail} Last contact: {when}.").format(
                server=url, state=state, detail=server.detail, when=_when(server.last_contact)
            )
        )
    if status.pending:
        lines.append(
            ngettext(
                "{count} submission waiting to be sent; it goes by itself as soon as its "
                "server is reachable (`koppel queue` lists it).",
                "{count} submissions waiting to be sent; they go by themselves as soon as "
                "their server is reachable (`koppel queue` lists them).",
                status.pending,
            ).format(count=status.pending)
        )
    else:
        lines.append(_("No submission waits to be sent."))
    if status.failed:
        lines.append(
            ngettext(
                "{count} submission refused: see `koppel queue`.",
                "{count} submissions refused: see `koppel queue`.",
                status.failed,
            ).format(count=status.failed)
        )
    if status.received:
        lines.append(_("Last files received:"))
        lines.extend(f"  {_when(r.time)}  {r.environment}  {r.path}" for r in status.received[:5])
    return lines


@agent_app.command("status")
@usage(
    _(
        "Show whether the background agent runs, each server's state, the queue and the "
        "last files received. Exit code 15 when it is not running."
    ),
    "koppel agent status --json",
)
def status(json_output: JsonOption = False) -> None:
    from koppel.agent.background import find_running
    from koppel.agent.local import status as status_mod
    from koppel.agent.output import print_json

    with reporting(json_output):
        found = find_running()
        current = status_mod.read()
        if json_output:
            data: dict[str, Any] = {
                "running": found is not None,
                "pid": found.pid if found else None,
                "status": current.to_json() if current else None,
            }
            print_json(data)
        if found is None:
            if not json_output:
                note(
                    _(
                        "The background agent is not running. Start it with `koppel agent "
                        "run` (`koppel autostart enable` starts it at every login)."
                    )
                )
            raise typer.Exit(int(ExitCode.AGENT_NOT_RUNNING))
        if not json_output:
            for line in _describe(current, found.pid):
                typer.echo(line)


@agent_app.command("stop")
@usage(
    _("Stop the background agent of this user (it finishes the file it is saving first)."),
    "koppel agent stop",
)
def stop() -> None:
    from koppel.agent.background import stop as stop_agent

    with reporting(False):
        pid = stop_agent()
        note(_("Stopped the background agent (pid {pid}).").format(pid=pid))
