"""`koppel watch` of a Dutch agent: the notification of a file that arrived (title and
body) is written in the agent's language (``KOPPEL_LANG=nl``). No desktop session bus
runs here, so the notification is the documented "notification: ..." log line, in Dutch
"melding: ..."; the watcher's own lines are Dutch too."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from harness import Server, Workstation
from koppel_process import desktopless
from test_watch import Watcher, publish, wait_files

Ws = Callable[..., Workstation]
_PLACED = re.compile(r"F10001: a\.pdf ontvangen -> ")


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
        watcher.wait_for("volgt 1 omgeving via één verbinding")
        publish(demo_server, "F10001", "anna", tmp_path / "a.pdf")
        wait_files(watcher, root, 1, placed=_PLACED)
        watcher.wait_for(
            "melding: Koppel: Dekker & Co Accountants: "
            "a.pdf is binnengekomen; klik om het te openen"
        )
        assert "1 omgeving op 1 server in de gaten houden" in watcher.text()
    finally:
        watcher.stop()
    assert watcher.text().rstrip().endswith("gestopt")
