"""Where the tray's state model gets its input (no Qt): the background agent's
``status.json`` while it runs (``koppel agent run`` talks to the servers; the tray only
reads its file), else the states recorded at each link's last check; "Check now" (one
POST /status per server through :mod:`koppel.agent.doctor`, which records the answers
too); and the offline queue."""

from __future__ import annotations

from collections.abc import Iterable

from koppel.agent.api import server_base
from koppel.agent.desktop.tray_model import (
    PROBLEM,
    SEVERITY,
    QueueCounts,
    ServerStatus,
    tray_state,
)
from koppel.agent.doctor import Finding
from koppel.agent.local import queue
from koppel.agent.local import state as state_mod
from koppel.agent.local import status as agent_status
from koppel.agent.local.queue import FAILED
from koppel.i18n import gettext as _


def _merge(entries: Iterable[tuple[str, str, str, str, str | None]]) -> list[ServerStatus]:
    """(server, environment, tray state, detail, last contact) per environment → one
    status per server, in first-seen order, the worst state winning."""
    servers: dict[str, ServerStatus] = {}
    for server, code, state, detail, contact in entries:
        status = servers.setdefault(server, ServerStatus(server, state))
        status.environments.append(code)
        worse = SEVERITY.index(state) < SEVERITY.index(status.state)
        if worse or (state == status.state and not status.detail):
            status.state, status.detail = state, detail
        if contact and (status.last_contact is None or contact > status.last_contact):
            status.last_contact = contact
    return list(servers.values())


def from_findings(findings: list[Finding]) -> list[ServerStatus]:
    """Doctor's findings (one per environment) grouped by server."""
    return _merge(
        (
            f.server,
            f.environment,
            tray_state(f.state),
            ""
            if f.ok
            else _("{environment}: {message}; {fix}").format(
                environment=f.environment, message=f.message, fix=f.fix
            ),
            None,
        )
        for f in findings
    )


def _recorded_words(state: str | None) -> str:
    """A recorded state in words; a refusal without words of its own keeps its code."""
    known = tray_state(state)
    return ServerStatus("", known).words if known != PROBLEM else str(state)


def from_recorded() -> list[ServerStatus]:
    """The states recorded at each environment's last check (state.json): no network."""
    envs = state_mod.read().state.environments.values()
    return _merge(
        (
            server_base(env.api_url),
            env.code,
            tray_state(env.last_state),
            ""
            if env.last_state in (None, "ok")
            else _("{environment}: {state}").format(
                environment=env.code, state=_recorded_words(env.last_state)
            ),
            env.last_check if env.last_state not in (None, "unreachable") else None,
        )
        for env in envs
    )


def from_agent_status(found: agent_status.AgentStatus) -> list[ServerStatus]:
    """The background agent's view of each server (its states are the tray's own)."""
    return [
        ServerStatus(
            server.url,
            tray_state(server.state),
            list(server.environments),
            "" if server.state == "connected" else server.detail,
            server.last_contact,
        )
        for server in found.servers.values()
    ]


def current() -> list[ServerStatus]:
    """What the tray shows without asking the network: the running background agent's
    status, else what each link's last check recorded."""
    found = agent_status.read()
    if found is not None and found.running and found.servers:
        return from_agent_status(found)
    return from_recorded()


def check_now() -> list[ServerStatus]:
    """Ask every server about its links now (``koppel doctor``'s check)."""
    from koppel.agent.doctor import run

    findings, _notes = run()
    return from_findings(findings)


def queue_counts() -> QueueCounts:
    """The offline queue: submissions waiting, and refused ones."""
    found = queue.load_all()
    failed = sum(1 for s in found if s.state == FAILED)
    return QueueCounts(len(found) - failed, failed)
