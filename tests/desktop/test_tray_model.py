"""The tray menu's content from server states and the queue: plain Python, no Qt."""

from __future__ import annotations

from pathlib import Path

import pytest

from koppel.agent.desktop import tray_model
from koppel.agent.desktop.tray_model import (
    CONNECTED,
    OFFLINE,
    PROBLEM,
    TOKEN_REVOKED,
    UNKNOWN,
    UPDATE_MISMATCH,
    QueueCounts,
    ServerStatus,
    build,
)
from koppel.agent.desktop.tray_sources import from_findings
from koppel.agent.doctor import Finding

ACTION_LABELS = [
    "Send files…",
    "Open received files",
    "Linked environments",
    "Check now",
    "Quit",
]


def texts(menu: tray_model.TrayMenu) -> list[str]:
    return [line.text for line in menu.lines]


def test_a_line_per_server_then_the_queue_then_the_actions() -> None:
    menu = build(
        [
            ServerStatus("https://koppel.example.nl", CONNECTED, ["F10001", "C20001"]),
            ServerStatus("http://127.0.0.1:8123", OFFLINE, ["F30001"]),
        ],
        QueueCounts(pending=2),
    )
    assert texts(menu) == [
        "koppel.example.nl: connected (F10001, C20001)",
        "127.0.0.1:8123: offline: cannot be reached (F30001)",
        "2 submissions waiting to be sent",
        "-",
        *ACTION_LABELS,
    ]
    assert [line.enabled for line in menu.lines[:3]] == [False, False, False]
    assert menu.actions() == [
        "send_files",
        "open_received",
        "linked_environments",
        "check_now",
        "quit",
    ]
    assert menu.state == OFFLINE


def test_each_state_in_words() -> None:
    words = {
        state: ServerStatus("https://s.example", state).words
        for state in (CONNECTED, OFFLINE, TOKEN_REVOKED, UPDATE_MISMATCH, UNKNOWN)
    }
    assert words == {
        CONNECTED: "connected",
        OFFLINE: "offline: cannot be reached",
        TOKEN_REVOKED: "access revoked: link it again",
        UPDATE_MISMATCH: "update mismatch: install the agent of the environment's update",
        UNKNOWN: "not checked yet",
    }
    refused = ServerStatus("https://s.example", PROBLEM, detail="the app connector is blocked")
    assert refused.words == "refused: the app connector is blocked"


def test_the_queue_in_words() -> None:
    assert tray_model.queue_line(QueueCounts()) == "Nothing waiting to be sent"
    assert tray_model.queue_line(QueueCounts(1)) == "1 submission waiting to be sent"
    assert tray_model.queue_line(QueueCounts(0, 2)) == (
        "0 submissions waiting to be sent, 2 refused (see `koppel queue`)"
    )


def test_nothing_linked() -> None:
    menu = build([], QueueCounts())
    assert texts(menu)[:2] == ["No environment linked yet", "Nothing waiting to be sent"]
    assert menu.state == UNKNOWN and menu.actions()[0] == "send_files"


def test_the_worst_environment_names_the_server() -> None:
    """Doctor's findings, one per environment, become one line per server: a revoked
    token on one environment shows, with its fix, over the others being fine."""
    server = "https://koppel.example.nl"
    findings = [
        Finding("F10001", server, "ok", "ok", ""),
        Finding("C20001", server, "token_revoked", "revoked by anna", "link it again"),
        Finding("F30001", "https://other.example", "update_mismatch", "on 2026.3", "install"),
        Finding("F40001", "https://third.example", "connector_blocked", "blocked", "unblock"),
    ]
    servers = from_findings(findings)
    assert [(s.server, s.state, s.environments) for s in servers] == [
        (server, TOKEN_REVOKED, ["F10001", "C20001"]),
        ("https://other.example", UPDATE_MISMATCH, ["F30001"]),
        ("https://third.example", PROBLEM, ["F40001"]),
    ]
    assert servers[0].detail == "C20001: revoked by anna; link it again"
    menu = build(servers, QueueCounts())
    assert menu.lines[0].text.startswith("koppel.example.nl: access revoked")
    assert menu.lines[0].tooltip == servers[0].detail
    assert menu.state == TOKEN_REVOKED


def test_the_background_agents_status_feeds_the_model() -> None:
    """An entry of the status file the background agent keeps (its own state words,
    and keys the tray does not use) becomes a ServerStatus."""
    status = ServerStatus.from_json(
        {
            "server": "https://koppel.example.nl",
            "state": "unreachable",
            "last_contact": "2026-12-03T09:00:00+00:00",
            "detail": "connection refused",
            "pending": 3,
            "received": 1,
            "environments": ["F10001"],
            "something_newer": True,
        }
    )
    assert status.state == OFFLINE and status.pending == 3 and status.received == 1
    assert ServerStatus.from_json({"server": "x", "state": "token_invalid"}).state == (
        TOKEN_REVOKED
    )


def test_the_running_background_agents_status_file_feeds_the_tray(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """status.json as ``koppel agent run`` writes it (its own writer) is what the tray
    shows while the agent runs; once it stopped, the states recorded at the last check."""
    from koppel.agent.desktop.tray_sources import current
    from koppel.agent.local import status

    monkeypatch.setenv("KOPPEL_AGENT_HOME", str(tmp_path))
    written = status.AgentStatus(
        pid=1,
        updated_at="2026-12-03T11:00:00+00:00",
        servers={
            "https://koppel.example.nl": status.ServerStatus(
                "https://koppel.example.nl",
                "token_revoked",
                "Access to C20001 was revoked; link it again.",
                "2026-12-03T10:59:00+00:00",
                {"F10001": "ok", "C20001": "token_revoked"},
            )
        },
        pending=1,
    )
    status.write(written)
    (server,) = current()
    assert (server.server, server.state, server.environments) == (
        "https://koppel.example.nl",
        TOKEN_REVOKED,
        ["F10001", "C20001"],
    )
    assert server.detail == "Access to C20001 was revoked; link it again."
    assert build([server], QueueCounts(1)).lines[0].text == (
        "koppel.example.nl: access revoked: link it again (F10001, C20001)"
    )
    written.running = False
    status.write(written)
    assert current() == []  # nothing linked in this home: no recorded state either
