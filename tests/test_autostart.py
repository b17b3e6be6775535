"""``koppel autostart`` for real on Linux, through the ``koppel`` command in a subprocess.

This machine has no systemd user manager (a container), so: the XDG autostart entry is
written for real and checked with ``desktop-file-validate``; the systemd path runs with a
stand-in ``systemctl`` on the PATH that records its calls, and the unit file it writes is
checked with the real ``systemd-analyze --user verify``. The other platforms' entries are
unit-tested against fakes in agent_unit/test_autostart_files.py.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

from harness import BIN, Workstation

Ws = Callable[..., Workstation]
PROBLEMS = 3

FAKE_SYSTEMCTL = """#!/bin/sh
# Stands in for systemctl: records the call, answers as a running user manager does.
echo "$*" >> "{log}"
case "$*" in
  *is-active*) echo active ;;
esac
exit 0
"""


def _tool(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is missing: .ci/run installs it (apt-get install desktop-file-utils)"
    return found


def _systemd_verify(unit: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``systemd-analyze --user verify`` of a unit file, with a runtime folder of its own
    (there is no user session here)."""
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    return subprocess.run(
        [_tool("systemd-analyze"), "--user", "verify", str(unit)],
        capture_output=True,
        text=True,
        env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)},
    )


def _on_path(ws: Workstation, folder: Path) -> None:
    # Only this folder on the PATH: no systemctl unless the test puts one there.
    folder.mkdir(exist_ok=True)
    ws.env["PATH"] = str(folder)


def test_xdg_autostart_entry_without_systemd(workstation: Ws, tmp_path: Path) -> None:
    ws = workstation("laptop")
    _on_path(ws, tmp_path / "no-systemd")
    entry = Path(ws.env["XDG_CONFIG_HOME"]) / "autostart" / "koppel-agent.desktop"

    enabled = ws.ok("autostart", "enable", "--json").json()
    assert enabled["method"] == "xdg-autostart" and enabled["location"] == str(entry)
    assert f"Exec={BIN / 'koppel'} agent run\n" in entry.read_text()
    validated = subprocess.run(
        [_tool("desktop-file-validate"), str(entry)], capture_output=True, text=True
    )
    assert validated.returncode == 0 and validated.stdout + validated.stderr == "", validated
    written = entry.read_bytes()

    again = ws.ok("autostart", "enable")
    assert "Done: wrote" not in again.stderr and entry.read_bytes() == written
    assert "now starts when you log in" in again.stderr
    assert "koppel agent run" in again.stderr  # how to start it without logging in again

    status = ws.ok("autostart", "status", "--json").json()
    assert status["installed"] and status["method"] == "xdg-autostart"
    assert status["command"] == f"{BIN / 'koppel'} agent run"
    assert f"Where:     {entry}" in ws.ok("autostart", "status").stdout

    disabled = ws.ok("autostart", "disable", "--json").json()
    assert disabled["done"] == [f"removed {entry}"]
    assert not entry.exists() and entry.parent.is_dir()
    assert ws.ok("autostart", "disable").stderr.startswith("Autostart was not enabled")
    missing = ws.koppel("autostart", "status")
    assert missing.returncode == PROBLEMS
    assert "koppel autostart enable" in missing.stderr


def test_systemd_user_unit_with_a_user_manager(workstation: Ws, tmp_path: Path) -> None:
    ws = workstation("laptop")
    tools, log = tmp_path / "tools", tmp_path / "systemctl.log"
    _on_path(ws, tools)
    fake = tools / "systemctl"
    fake.write_text(FAKE_SYSTEMCTL.format(log=log))
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    unit = Path(ws.env["XDG_CONFIG_HOME"]) / "systemd" / "user" / "koppel-agent.service"

    enabled = ws.ok("autostart", "enable", "--json").json()
    assert (enabled["method"], enabled["location"]) == ("systemd", str(unit))
    assert log.read_text().splitlines() == [
        "--user --no-pager show --property=Version",
        "--user daemon-reload",
        "--user enable --now koppel-agent.service",
    ]
    assert f"ExecStart={BIN / 'koppel'} agent run\n" in unit.read_text()
    assert not (Path(ws.env["XDG_CONFIG_HOME"]) / "autostart" / "koppel-agent.desktop").exists()

    # The real systemd checks the unit as the user's manager would load it.
    verified = _systemd_verify(unit, tmp_path)
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout + verified.stderr == "", verified.stderr

    assert ws.ok("autostart", "status", "--json").json()["running"] is True
    log.write_text("")
    ws.ok("autostart", "disable")
    assert log.read_text().splitlines() == [
        "--user disable --now koppel-agent.service",
        "--user daemon-reload",
    ]
    assert not unit.exists()


def test_systemd_analyze_finds_a_broken_unit(tmp_path: Path) -> None:
    # The check above can fail: a unit whose program is missing is refused.
    unit = tmp_path / "koppel-agent.service"
    unit.write_text("[Unit]\nDescription=x\n\n[Service]\nExecStart=/nonexistent/koppel agent run\n")
    verified = _systemd_verify(unit, tmp_path)
    assert verified.returncode != 0 and "not executable" in verified.stderr
