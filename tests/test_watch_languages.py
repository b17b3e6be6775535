"""`koppel watch` of a Dutch agent: the notification of a file that arrived (title and
body) is written in the agent's language (``KOPPEL_LANG=nl``). No desktop session bus
runs here, so the notification is the documented "notification: ..." log line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from harness import Server, Workstation
from koppel_process import desktopless
from test_watch import Watcher, publish, wait_files

Ws = Callable[..., Workstation]


def test_a_dutch_agent_notifies_in_dutch(
    demo_server: Server, workstation: Ws, tmp_path: Path
) -> None:
    root = tmp_path / "downloads"
    ws = desktopless(workstation("laptop", KOPPEL_DOWNLOADS_DIR=str(root)))
    ws.ok("link", str(ws.save_settings(demo_server, "F10001", "anna")))
    ws.env["KOPPEL_LANG"] = "nl"
    (tmp_path / "a.pdf").write_bytes(b"%PDF first")
    watcher = Watcher(ws, tmp_path / "watch.log").start()
    try:
        watcher.wait_for("on one connection")
        publish(demo_server, "F10001", "anna", tmp_path / "a.pdf")
        wait_files(watcher, root, 1)
        watcher.wait_for(
            "notification: Koppel: Dekker & Co Accountants: "
            "a.pdf is binnengekomen; klik om het te openen"
        )
    finally:
        watcher.stop()
