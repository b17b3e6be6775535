"""The desktop commands as a file manager's "Send to Koppel" runs them: ``koppel submit
--gui FILE`` opens the window prefilled; and on an agent installed without
``koppel[desktop]`` the window commands say in one line how to install it (exit 2) while
every other command works as before. PySide6 is hidden from a real ``koppel`` process by
a ``sitecustomize`` on its path (``None`` in ``sys.modules`` makes ``import PySide6``
fail as a missing package does)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from harness import Workstation

Ws = Callable[..., Workstation]
LINE = (
    "Error: The desktop agent is not installed with this Koppel; install it with "
    "pip install 'koppel[desktop]' (or pipx inject koppel PySide6-Essentials).\n"
)


@pytest.fixture
def without_qt(workstation: Ws, tmp_path: Path) -> Workstation:
    hide = tmp_path / "no-qt"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(
        "import sys\nsys.modules['PySide6'] = None\nsys.modules['shiboken6'] = None\n"
    )
    path = os.pathsep.join(p for p in (str(hide), os.environ.get("PYTHONPATH", "")) if p)
    return workstation("bare", PYTHONPATH=path)


def test_tray_and_submit_gui_say_how_to_install(without_qt: Workstation, tmp_path: Path) -> None:
    source = tmp_path / "a.pdf"
    source.write_bytes(b"%PDF-1.4\n")
    for args in (["tray"], ["submit", "--gui", str(source)]):
        result = without_qt.koppel(*args)
        assert (result.returncode, result.stderr, result.stdout) == (2, LINE, ""), args
    assert without_qt.ok("envs", "--json").json() == []
    refused = without_qt.koppel("submit", str(source))
    assert refused.returncode == 2 and "--to" in refused.stderr and "--gui" in refused.stderr


def test_submit_gui_opens_the_window_with_the_files(workstation: Ws, tmp_path: Path) -> None:
    """The real command shows the window (offscreen here); in the benchmark mode it says
    so on stdout and closes."""
    source = tmp_path / "factuur.pdf"
    source.write_bytes(b"%PDF-1.4\n")
    ws = workstation("laptop", KOPPEL_BENCH_SHOWN="1", QT_QPA_PLATFORM="offscreen")
    result = ws.koppel("submit", "--gui", str(source))
    assert result.returncode == 0, result.output
    assert result.stdout.splitlines() == ["shown"]
