"""``koppel agent run|status|stop``: the background agent (what the autostart entry runs)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from koppel.agent.cli.common import JsonOption, reporting
from koppel.agent.exit_codes import ExitCode
from koppel.protocol.counts import counted

if TYPE_CHECKING:
    from koppel.agent.local.status import AgentStatus

agent_app = typer.Typer(
    help="The background agent: receives My files and sends the offline queue by itself.",
    no_args_is_help=True,
)

_STATE_WORDS = {
    "connected": "connected",
    "offline": "offline",
    "token_revoked": "access revoked",
    "update_mismatch": "another update",
}


@agent_app.command("run")
def run() -> None:
    """Run the background agent until stopped: what `koppel watch` does, and it sends
    queued submissions as soon as their server is reachable again.

    One per user: a second one says that one is running and exits with code 14. Its
    status (`koppel agent status`) is kept in `status.json` in the agent's data folder.

    Example: `koppel agent run` (the command that `koppel autostart enable` starts at login).
    """
    with reporting(False):
        from koppel.agent.background import run as run_agent

        raise typer.Exit(run_agent())


def _when(iso: str | None) -> str:
    return iso.replace("T", " ").replace("+00:00", " UTC") if iso else "never"


def _describe(status: AgentStatus | None, pid: int | None) -> list[str]:
    lines = [
        f"The background agent is running (pid {pid})."
        if pid is not None
        else "The background agent is running."
    ]
    if status is None:
        return [*lines, "It has not written its status yet."]
    if not status.servers:
        lines.append("No server is followed: no environment is linked (`koppel link FILE`).")
    for url, server in sorted(status.servers.items()):
        state = _STATE_WORDS.get(server.state, server.state)
        lines.append(f"{url}: {state}. {server.detail} Last contact: {_when(server.last_contact)}.")
    if status.pending:
        lines.append(
            f"{counted(status.pending, 'submission')} waiting to be sent; they go by themselves "
            "as soon as their server is reachable (`koppel queue` lists them)."
        )
    else:
        lines.append("No submission waits to be sent.")
    if status.failed:
        lines.append(f"{counted(status.failed, 'submission')} refused: see `koppel queue`.")
    if status.received:
        lines.append("Last files received:")
        lines.extend(f"  {_when(r.time)}  {r.environment}  {r.path}" for r in status.received[:5])
    return lines


@agent_app.command("status")
def status(json_output: JsonOption = False) -> None:
    """Show whether the background agent runs, each server's state, the queue and the
    last files received. Exit code 15 when it is not running.

    Example: `koppel agent status --json`
    """
    from koppel.agent.background import find_running
    from koppel.agent.local import status as status_mod
    from koppel.agent.output import note, print_json

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
                    "The background agent is not running. Start it with `koppel agent run` "
                    "(`koppel autostart enable` starts it at every login)."
                )
            raise typer.Exit(int(ExitCode.AGENT_NOT_RUNNING))
        if not json_output:
            for line in _describe(current, found.pid):
                typer.echo(line)


@agent_app.command("stop")
def stop() -> None:
    """Stop the background agent of this user (it finishes the file it is saving first).

    Example: `koppel agent stop`
    """
    from koppel.agent.background import stop as stop_agent
    from koppel.agent.output import note

    with reporting(False):
        pid = stop_agent()
        note(f"Stopped the background agent (pid {pid}).")
