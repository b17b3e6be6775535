"""The submit window and the tray menu against a real server (served on a thread of this
process), with pytest-qt on offscreen Qt: files sent from the window arrive as one item
with the very bytes; a revoked token shows in the tray's menu. The pictures are taken
here; ``KOPPEL_SCREENSHOTS=docs/screenshots`` refreshes the README's copies."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytestqt.qtbot import QtBot

from harness import Server, Workstation
from uploads_helpers import auth, link, random_file, sha256_of

from .conftest import be_the_agent_of, screenshot

Ws = Callable[..., Workstation]
CLIENT = "C20001"
WAIT_MS = 60_000


@pytest.fixture
def anna(
    demo_server: Server, workstation: Ws, monkeypatch: pytest.MonkeyPatch
) -> tuple[Server, Workstation, str]:
    """anna's laptop with the client environment C20001 linked (by the real ``koppel
    link``), and this process's agent acting as hers."""
    ws = workstation("laptop")
    token = link(ws, demo_server, CLIENT, "anna")
    be_the_agent_of(ws, monkeypatch)
    return demo_server, ws, token


def items_of(server: Server, token: str, env: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{server.url}/api/v1/environments/{env}/items", headers=auth(token))
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["items"]
    return found


def content_sha256(server: Server, token: str, item: dict[str, Any], index: int) -> str:
    attachment = item["attachments"][index]
    url = (
        f"{server.url}/api/v1/environments/{item['environment']}/items/{item['id']}"
        f"/attachments/{attachment['id']}/content"
    )
    response = httpx.get(url, headers=auth(token), timeout=60)
    assert response.status_code == 200
    return hashlib.sha256(response.content).hexdigest()


def open_window(qtbot: QtBot, files: list[Path]) -> Any:
    from koppel.agent.desktop.submit_window import SubmitWindow

    window = SubmitWindow(files)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.choices_loaded, timeout=WAIT_MS):
        window.show()
    return window


def test_two_files_sent_from_the_window_are_one_item(
    anna: tuple[Server, Workstation, str], qtbot: QtBot, tmp_path: Path
) -> None:
    server, _ws, token = anna
    files = [
        random_file(tmp_path / "jaarrekening 2025.pdf", 700_000),
        random_file(tmp_path / "toelichting.xlsx", 40_000),
    ]
    window = open_window(qtbot, files)
    assert window.environment_code() == CLIENT
    assert window.destination.count() > 0 and window.item_type.count() > 0
    assert window.subject.text() == "jaarrekening 2025.pdf and 1 more"
    window.subject.setText("Jaarrekening 2025")
    screenshot(window, "submit-window", tmp_path)

    with qtbot.waitSignal(window.finished, timeout=WAIT_MS) as done:
        qtbot.mouseClick(window.send_button, _left())
    outcome = done.args[0]
    assert not isinstance(outcome, Exception), outcome
    assert outcome.result.state == "sent", outcome.result.message
    assert window.message().startswith("Sent: item ")
    assert [bar.value() for bar in window._bars] == [100, 100]
    screenshot(window, "submit-window-sent", tmp_path)

    (item,) = items_of(server, token, CLIENT)
    assert item["subject"] == "Jaarrekening 2025"
    assert [a["name"] for a in item["attachments"]] == [f.name for f in files]
    for index, path in enumerate(files):
        assert content_sha256(server, token, item, index) == sha256_of(path)

    # The environment used is offered first next time, from the window's memory file.
    from koppel.agent.local.submit_memory import load

    assert load().last_environment == CLIENT
    assert load().choices[CLIENT].types


def test_the_window_refuses_as_the_command_line_does(
    anna: tuple[Server, Workstation, str], qtbot: QtBot, tmp_path: Path
) -> None:
    """An empty file: the window shows the very sentence ``koppel submit`` prints, and
    nothing is queued."""
    _server, ws, _token = anna
    empty = tmp_path / "leeg.pdf"
    empty.write_bytes(b"")
    window = open_window(qtbot, [empty])
    with qtbot.waitSignal(window.finished, timeout=WAIT_MS) as done:
        window.send()
    assert isinstance(done.args[0], Exception)
    shown = window.message()
    cli = ws.koppel("submit", str(empty), "--to", "X", "--type", "Y", "--env", CLIENT)
    assert cli.returncode == 10
    assert cli.stderr.strip() == f"Error: {shown}"
    assert window.send_button.isEnabled()
    from koppel.agent.local import queue

    assert queue.load_all() == []


def test_offline_the_window_queues_with_the_kept_lists(
    anna: tuple[Server, Workstation, str], qtbot: QtBot, tmp_path: Path
) -> None:
    server, _ws, _token = anna
    source = random_file(tmp_path / "offline.pdf", 5_000)
    first = open_window(qtbot, [source])  # online: the lists are kept on disk
    destinations = first.destination.count()
    first.close()
    server.stop()
    window = open_window(qtbot, [source])
    assert window.destination.count() == destinations
    assert "cannot be reached" in window.message()
    with qtbot.waitSignal(window.finished, timeout=WAIT_MS) as done:
        window.send()
    assert done.args[0].result.state == "queued"
    assert "queued" in window.message()
    from koppel.agent.local import queue

    assert [s.environment for s in queue.load_all()] == [CLIENT]


def test_the_tray_menu_shows_a_revoked_token(
    anna: tuple[Server, Workstation, str], qtbot: QtBot, tmp_path: Path
) -> None:
    server, _ws, _token = anna
    from koppel.agent.desktop.tray import Tray

    tray = Tray()
    tray.start()  # the recorded states at once, then a check in the background
    assert tray.menu.actions()[0].text().startswith(server.url.split("://", 1)[1])
    qtbot.waitUntil(lambda: not tray._checking, timeout=WAIT_MS)
    texts = [action.text() for action in tray.menu.actions() if not action.isSeparator()]
    host = server.url.split("://", 1)[1]
    assert texts == [
        f"{host}: connected ({CLIENT})",
        "Nothing waiting to be sent",
        "Send files…",
        "Open received files",
        "Linked environments",
        "Check now",
        "Quit",
    ]
    enabled = {a.text(): a.isEnabled() for a in tray.menu.actions()}
    assert enabled["Send files…"] and not enabled["Nothing waiting to be sent"]
    screenshot(tray.menu, "tray-menu", tmp_path)

    server.ok("tokens", "revoke", CLIENT, "--workstation", "laptop", "--user", "anna")
    with qtbot.waitSignal(tray.refreshed, timeout=WAIT_MS):
        tray.check_now()
    first = tray.menu.actions()[0]
    assert first.text() == f"{host}: access revoked: link it again ({CLIENT})"
    assert "koppel link" in first.toolTip()
    assert tray.model is not None and tray.model.state == "token_revoked"
    screenshot(tray.menu, "tray-menu-revoked", tmp_path)

    # "Send files…" opens the window; "Linked environments" lists the link.
    (send,) = [a for a in tray.menu.actions() if a.objectName() == "send_files"]
    send.trigger()
    assert any(w.windowTitle() == "Send files to Koppel" for w in tray.windows)
    tray.trigger("linked_environments")
    table = tray.windows[-1].table
    assert table.item(0, 0).text() == CLIENT
    for window in tray.windows:
        window.close()


def _left() -> Any:
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton


def test_dropped_files_and_an_emails_subject(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files dropped from a file manager or mail program join the list; an e-mail's own
    subject becomes the default subject; a folder is refused in words. (No environment
    is linked here: the window says how to link one.)"""
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    from koppel.agent.desktop.submit_window import SubmitWindow

    monkeypatch.setenv("KOPPEL_AGENT_HOME", str(tmp_path / "agent"))
    mail = tmp_path / "vraag.eml"
    mail.write_bytes(
        b"Subject: Vraag over de btw\r\nDate: Tue, 03 Nov 2026 09:15:00 +0100\r\n\r\n."
    )
    other = random_file(tmp_path / "bijlage.pdf", 1000)
    window = SubmitWindow()
    qtbot.addWidget(window)
    assert "koppel link" in window.message() and not window.send_button.isEnabled()
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(p)) for p in (mail, other, tmp_path)])
    drop = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        data,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(drop)
    assert window.files() == [mail, other]
    assert window.subject.text() == "Vraag over de btw"
    assert "Folders cannot be sent" in window.message()


def test_the_environment_used_last_comes_first(
    anna: tuple[Server, Workstation, str], qtbot: QtBot, tmp_path: Path
) -> None:
    server, ws, _token = anna
    link(ws, server, "F10001", "anna")
    assert open_window(qtbot, []).environment_code() == CLIENT  # by code at first
    from koppel.agent.submit_choices import remember_environment

    remember_environment("F10001")
    window = open_window(qtbot, [])
    labels = [window.environment.itemText(i) for i in range(window.environment.count())]
    assert [label.split(" — ")[0] for label in labels] == ["F10001", CLIENT]
    # Typing part of a name finds it: the list is searchable.
    completer = window.environment.completer()
    completer.setCompletionPrefix(labels[1].split(" — ")[1][:4].lower())
    assert completer.completionCount() >= 1


def test_open_received_files_opens_the_folder(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The menu's "Open received files" hands the My files folder to the desktop's opener
    (KOPPEL_OPEN_COMMAND stands in for it here)."""
    from koppel.agent.desktop.tray import Tray

    opened = tmp_path / "opened.txt"
    opener = tmp_path / "opener.sh"
    opener.write_text(f'#!/bin/sh\nprintf %s "$1" > {opened}\n')
    opener.chmod(0o755)
    monkeypatch.setenv("KOPPEL_AGENT_HOME", str(tmp_path / "agent"))
    monkeypatch.setenv("KOPPEL_DOWNLOADS_DIR", str(tmp_path / "My files"))
    monkeypatch.setenv("KOPPEL_OPEN_COMMAND", str(opener))
    tray = Tray()
    tray.refresh()
    (action,) = [a for a in tray.menu.actions() if a.objectName() == "open_received"]
    action.trigger()
    qtbot.waitUntil(lambda: opened.exists() and opened.read_text() != "", timeout=10_000)
    assert opened.read_text() == str(tmp_path / "My files")


def test_what_the_command_line_chose_is_filled_in(
    anna: tuple[Server, Workstation, str], qtbot: QtBot, tmp_path: Path
) -> None:
    from koppel.agent.desktop.submit_window import Prefill, SubmitWindow

    server, ws, _token = anna
    link(ws, server, "F10001", "anna")  # now the firm is listed first, the client second
    window = SubmitWindow(
        [random_file(tmp_path / "scan.pdf", 1_000)],
        Prefill(CLIENT, "D0001", "Invoice", "Jaarrekening 2025"),
    )
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.choices_loaded, timeout=WAIT_MS):
        window.show()
    assert window.environment_code() == CLIENT
    assert window.destination.currentData() == "D0001"
    assert window.item_type.currentData() == "Invoice"
    assert window.subject.text() == "Jaarrekening 2025"

    unknown = SubmitWindow([], Prefill("X99999"))
    qtbot.addWidget(unknown)
    with qtbot.waitSignal(unknown.choices_loaded, timeout=WAIT_MS):
        unknown.show()
    assert "X99999 is not linked on this computer" in unknown.status.text()
