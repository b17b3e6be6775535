"""Fixtures of the desktop agent's tests: Qt drawn offscreen (no display here, and none
needed: offscreen Qt has no tray, so the tray's menu and the windows are driven directly),
and the agent of this test process pointed at a workstation's home."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness import Workstation

# Before pytest-qt makes the QApplication: set when this folder is collected.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def be_the_agent_of(ws: Workstation, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the agent code running in this process read and write ``ws``'s files, as the
    ``koppel`` processes of ``ws`` do (the window runs in the test process)."""
    for name in list(os.environ):
        if name == "KOPPEL_SCREENSHOTS":
            continue  # where the pictures go: the test's, not the agent's
        if name.startswith(("KOPPEL_", "XDG_")) and name not in ws.env:
            monkeypatch.delenv(name)
    for name, value in ws.env.items():
        if os.environ.get(name) != value:
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("KOPPEL_TOKEN_STORE", "file")


def screenshot(widget: object, name: str, folder: Path) -> Path:
    """Save a picture of ``widget`` (a QWidget) as ``<folder>/<name>.png`` (a test's own
    folder), and into ``$KOPPEL_SCREENSHOTS`` too when set: ``KOPPEL_SCREENSHOTS=
    docs/screenshots`` refreshes the README's pictures, as for the portal's."""
    from PySide6.QtWidgets import QWidget

    assert isinstance(widget, QWidget)
    if not widget.isVisible():
        widget.adjustSize()  # a menu never popped up has not been laid out yet
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.png"
    picture = widget.grab()
    assert picture.save(str(target)), target
    assert target.stat().st_size > 1_000, "an empty picture"
    if shared := os.environ.get("KOPPEL_SCREENSHOTS"):
        Path(shared).mkdir(parents=True, exist_ok=True)
        assert picture.save(str(Path(shared) / f"{name}.png"))
    return target
