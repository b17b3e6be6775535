"""`koppel agent run|status|stop` end to end: the real background agent in a subprocess
against a real server. An offline submission leaves the queue by itself once the server
is back (no command typed); one agent per user; its status file says connected, offline,
token revoked, and which files it received.

No desktop session bus runs here (DBUS_SESSION_BUS_ADDRESS is removed), so notifications
are log lines."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness import Server, Workstation
from koppel.agent.local import status as status_mod
from koppel.agent.local.status import AgentStatus
from koppel_process import KoppelProcess, desktopless
from test_submit import attachment_sha256, items_of, queue_files
from test_watch import _converted_event
from uploads_helpers import link, random_file, sha256_of

Ws = Callable[..., Workstation]
QUEUED, AGENT_RUNNING, AGENT_NOT_RUNNING = 11, 14, 15


class Agent(KoppelProcess):
    """`koppel agent run` running in the background, its output in a log file."""

    args = ("agent", "run")
    stop_wait = 30.0

    def start(self) -> Agent:
        super().start()
        return self

    def status(self) -> AgentStatus | None:
        return status_mod.read(self.ws.home / ".local/share/koppel/status.json")

    def wait_until(self, what: str, check: Callable[[], Any], timeout: float = 60) -> Any:
        """Poll ``check`` until it gives something true; the agent must keep running."""
        deadline = time.monotonic() + timeout
        while not (found := check()):
            assert self.process is None or self.process.poll() is None, self.text()
            assert time.monotonic() < deadline, f"{what}: {self.status()}\n{self.text()}"
            time.sleep(0.1)
        return found

    def server_state(self, url: str) -> str | None:
        current = self.status()
        server = current.servers.get(url) if current else None
        return server.state if server else None


@pytest.fixture
def agents() -> Iterator[list[Agent]]:
    made: list[Agent] = []
    yield made
    for agent in made:
        agent.stop()


def test_an_offline_submission_leaves_the_queue_by_itself(
    demo_server: Server, workstation: Ws, agents: list[Agent], tmp_path: Path
) -> None:
    server = demo_server
    ws = desktopless(workstation("laptop"))
    token = link(ws, server)
    agent = Agent(ws, tmp_path / "agent.log").start()
    agents.append(agent)
    agent.wait_until("connected", lambda: agent.server_state(server.url) == "connected")

    server.stop()
    agent.wait_until("offline", lambda: agent.server_state(server.url) == "offline")
    source = random_file(tmp_path / "offline.pdf", 50_000)
    queued = ws.koppel("submit", str(source), "--to", "D0001", "--type", "Invoice", "--json")
    assert queued.returncode == QUEUED, queued.output
    # Nothing to type: the user is told the running agent sends it.
    assert "The Koppel agent of this computer sends it as soon as the server answers" in (
        queued.stderr
    ), queued.output
    assert len(queue_files(ws)) == 1
    # The agent sees the new submission in the queue (the tray shows it waiting).
    agent.wait_until("pending", lambda: (s := agent.status()) and s.pending == 1, 20)
    offline = agent.status()
    assert offline is not None
    assert "cannot be reached" in offline.servers[server.url].detail

    server.start()  # same port; nobody types a command from here on
    back = time.monotonic()
    agent.wait_until("queue empty", lambda: queue_files(ws) == [], 90)
    # Sent on the reconnect or the queue's own short backoff, not the minute `koppel
    # watch` waits between two looks at the queue.
    assert time.monotonic() - back < 30
    (item,) = items_of(server, token)
    assert item["submission_id"] == queued.json()["submission"]
    assert attachment_sha256(server, token, item) == sha256_of(source)
    agent.wait_until("pending 0", lambda: (s := agent.status()) and s.pending == 0, 20)
    agent.wait_until("connected again", lambda: agent.server_state(server.url) == "connected")
    assert "queue: F10001: sent" in agent.text()
    agent.stop()
    stopped = agent.status()
    assert stopped is not None and stopped.running is False


def test_one_agent_per_user_and_its_status(
    demo_server: Server, workstation: Ws, agents: list[Agent], tmp_path: Path
) -> None:
    srv = demo_server
    root = tmp_path / "downloads"
    ws = desktopless(workstation("laptop", KOPPEL_DOWNLOADS_DIR=str(root)))
    ws.ok("link", str(ws.save_settings(srv, "C20001", "anna")))
    ws.ok("link", str(ws.save_settings(srv, "C20002", "anna")))
    assert ws.koppel("agent", "status").returncode == AGENT_NOT_RUNNING

    agent = Agent(ws, tmp_path / "agent.log").start()
    agents.append(agent)
    agent.wait_until("connected", lambda: agent.server_state(srv.url) == "connected")
    assert agent.process is not None
    pid = agent.process.pid

    second = ws.koppel("agent", "run")
    assert second.returncode == AGENT_RUNNING, second.output
    assert f"already running (pid {pid})" in second.stderr
    assert len(second.stderr.strip().splitlines()) == 1
    # A foreground watcher would deliver files twice: refused too.
    assert ws.koppel("watch").returncode != 0

    (tmp_path / "report.pdf").write_bytes(b"%PDF report")
    srv.ok("files", "publish", "C20001", "anna", str(tmp_path / "report.pdf"))
    status = agent.wait_until("received", lambda: (s := agent.status()) and s.received and s)
    (received,) = status.received
    assert received.environment == "C20001" and received.path.endswith("report.pdf")
    assert Path(received.path).read_bytes() == b"%PDF report"

    shown = ws.koppel("agent", "status")
    assert shown.returncode == 0, shown.output
    assert f"running (pid {pid})" in shown.stdout
    assert f"{srv.url}: connected" in shown.stdout and "report.pdf" in shown.stdout

    srv.ok("tokens", "revoke", "C20001", "--user", "anna")
    agent.wait_until("revoked", lambda: agent.server_state(srv.url) == "token_revoked")
    data = ws.ok("agent", "status", "--json").json()
    server = data["status"]["servers"][srv.url]
    assert data["running"] is True and data["pid"] == pid
    assert server["environments"] == {"C20001": "token_revoked", "C20002": "ok"}
    assert "revoked" in server["detail"] and "koppel link" in server["detail"]
    assert "access revoked" in ws.ok("agent", "status").stdout

    stopped = ws.koppel("agent", "stop")
    assert stopped.returncode == 0, stopped.output
    assert agent.process.wait(10) == 0
    assert ws.koppel("agent", "status").returncode == AGENT_NOT_RUNNING
    assert ws.koppel("agent", "stop").returncode == AGENT_NOT_RUNNING
    assert json.loads((ws.home / ".local/share/koppel/status.json").read_text())["running"] is False


def test_status_shows_an_update_mismatch(
    demo_server: Server, workstation: Ws, agents: list[Agent], tmp_path: Path
) -> None:
    srv = demo_server
    ws = desktopless(workstation("laptop"))
    ws.ok("link", str(ws.save_settings(srv, "C20003", "anna")))
    agent = Agent(ws, tmp_path / "agent.log").start()
    agents.append(agent)
    agent.wait_until("connected", lambda: agent.server_state(srv.url) == "connected")
    _converted_event(srv, "C20003")
    agent.wait_until("mismatch", lambda: agent.server_state(srv.url) == "update_mismatch")
    status = agent.status()
    assert status is not None
    server = status.servers[srv.url]
    assert server.environments == {"C20003": "update_mismatch"}
    assert "converted from update 2026.2 to 2027.1" in server.detail
    assert "another update" in ws.ok("agent", "status").stdout

    # Unlinked: the server leaves the status within a look at the links (5 s).
    ws.ok("unlink", "C20003")
    agent.wait_until("gone", lambda: (s := agent.status()) and s.servers == {}, 20)


def test_the_background_agent_tells_of_a_new_release_once(
    demo_server: Server, workstation: Ws, agents: list[Agent], tmp_path: Path
) -> None:
    from agent_venvs import publish_release
    from koppel._version import __version__
    from koppel.protocol.updates import AGENT_UPDATE

    newer = f"{AGENT_UPDATE}.{int(__version__.split('.')[2]) + 1}"
    publish_release(demo_server.data_dir / "packages", newer)
    ws = desktopless(workstation("laptop"))
    ws.ok("link", str(ws.save_settings(demo_server, "F10001", "anna")))
    agent = Agent(ws, tmp_path / "agent.log").start()
    agents.append(agent)
    told = f"notification: Koppel {newer} is available"
    agent.wait_until("the release told", lambda: told in agent.text())
    agent.wait_until("connected", lambda: agent.server_state(demo_server.url) == "connected")
    agent.stop()
    # Started again the same day: the release is not told a second time.
    agent.start()
    following = "following 1 environment on one connection"
    agent.wait_until("connected again", lambda: agent.text().count(following) == 2)
    agent.stop()
    assert agent.text().count(told) == 1, agent.text()
