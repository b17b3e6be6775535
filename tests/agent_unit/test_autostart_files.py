"""Each platform's autostart entry, as written, and the calls made to install it.

This Linux machine cannot run ``winreg``, ``launchctl`` or a systemd user manager (there
is none in this container). So the files are compared with golden copies, the registry is
a fake with ``winreg``'s functions, and ``systemctl``/``launchctl`` are fake runners that
record the calls and answer as the real tools do. The XDG entry and the unit file are also
checked by the real validators in tests/test_autostart.py.
"""

from __future__ import annotations

import plistlib
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from koppel.agent import autostart
from koppel.agent.autostart import System
from koppel.agent.local import autostart_linux, autostart_macos, autostart_windows

COMMAND = ["/home/anna/.local/bin/koppel", "agent", "run"]
SPACED = ["/opt/Koppel Agent/bin/koppel", "agent", "run"]

GOLDEN_UNIT = """\
[Unit]
Description=Koppel agent: sends queued submissions and receives files

[Service]
Type=simple
ExecStart=/home/anna/.local/bin/koppel agent run
Restart=on-failure
RestartSec=10

[Install]
WantedBy=default.target
"""

GOLDEN_DESKTOP = """\
[Desktop Entry]
Type=Application
Name=Koppel agent
Comment=Koppel agent: sends queued submissions and receives files
Exec=/home/anna/.local/bin/koppel agent run
Terminal=false
NoDisplay=true
X-GNOME-Autostart-enabled=true
"""

GOLDEN_PLIST = """\
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>KeepAlive</key>
	<dict>
		<key>SuccessfulExit</key>
		<false/>
	</dict>
	<key>Label</key>
	<string>nl.koppel.agent</string>
	<key>ProcessType</key>
	<string>Interactive</string>
	<key>ProgramArguments</key>
	<array>
		<string>/Users/anna/.local/bin/koppel</string>
		<string>agent</string>
		<string>run</string>
	</array>
	<key>RunAtLoad</key>
	<true/>
	<key>StandardErrorPath</key>
	<string>/Users/anna/Library/Logs/koppel-agent.log</string>
	<key>StandardOutPath</key>
	<string>/Users/anna/Library/Logs/koppel-agent.log</string>
</dict>
</plist>
"""


class FakeTool:
    """``systemctl``/``launchctl`` as a runner: records each call, answers from a table
    of (argument prefix → exit code, stdout, stderr); unknown calls succeed silently."""

    def __init__(self, answers: dict[tuple[str, ...], tuple[int, str, str]] | None = None):
        self.calls: list[list[str]] = []
        self.answers = answers or {}

    def __call__(self, args: Sequence[str]) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(args))
        for prefix, (code, out, err) in self.answers.items():
            if tuple(args[: len(prefix)]) == prefix:
                return subprocess.CompletedProcess(list(args), code, out, err)
        return subprocess.CompletedProcess(list(args), 0, "", "")


class FakeWinreg:
    """The part of ``winreg`` the agent uses, over a dict: (root, key) → {name: (value,
    type)}. Raises FileNotFoundError where winreg does."""

    HKEY_CURRENT_USER = "HKCU"
    KEY_READ, KEY_SET_VALUE, REG_SZ = 0x20019, 0x0002, 1

    def __init__(self) -> None:
        self.keys: dict[tuple[str, str], dict[str, tuple[Any, int]]] = {}

    class _Key:
        def __init__(self, values: dict[str, tuple[Any, int]]) -> None:
            self.values = values

        def __enter__(self) -> FakeWinreg._Key:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

    def CreateKeyEx(self, root: str, sub: str, reserved: int, access: int) -> _Key:
        assert reserved == 0 and access & self.KEY_SET_VALUE
        return self._Key(self.keys.setdefault((root, sub), {}))

    def OpenKey(self, root: str, sub: str, reserved: int = 0, access: int = 0) -> _Key:
        if (root, sub) not in self.keys:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        return self._Key(self.keys[(root, sub)])

    def SetValueEx(self, key: _Key, name: str, reserved: int, kind: int, value: Any) -> None:
        key.values[name] = (value, kind)

    def QueryValueEx(self, key: _Key, name: str) -> tuple[Any, int]:
        if name not in key.values:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        return key.values[name]

    def DeleteValue(self, key: _Key, name: str) -> None:
        if name not in key.values:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        del key.values[name]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("HOME", str(folder))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder / "config"))
    return folder


# --- the files ----------------------------------------------------------------------------
def test_systemd_unit_golden() -> None:
    assert autostart_linux.unit_file(COMMAND) == GOLDEN_UNIT


def test_systemd_unit_quotes_spaces_and_escapes_specifiers() -> None:
    unit = autostart_linux.unit_file(["/opt/Koppel 100%/$HOME/koppel", "agent", "run"])
    assert 'ExecStart="/opt/Koppel 100%%/$$HOME/koppel" agent run\n' in unit


def test_xdg_entry_golden() -> None:
    assert autostart_linux.desktop_entry(COMMAND) == GOLDEN_DESKTOP


def test_xdg_entry_quotes_a_path_with_spaces() -> None:
    entry = autostart_linux.desktop_entry(SPACED)
    assert 'Exec="/opt/Koppel Agent/bin/koppel" agent run\n' in entry


def test_xdg_config_home_is_honoured_and_a_relative_one_ignored(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert autostart_linux.desktop_path() == home / "config/autostart/koppel-agent.desktop"
    assert autostart_linux.unit_path() == home / "config/systemd/user/koppel-agent.service"
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/config")
    assert autostart_linux.desktop_path() == home / ".config/autostart/koppel-agent.desktop"


def test_launch_agent_golden() -> None:
    command = ["/Users/anna/.local/bin/koppel", "agent", "run"]
    data = autostart_macos.launch_agent(command, Path("/Users/anna"))
    assert data.decode() == GOLDEN_PLIST
    assert plistlib.loads(data)["ProgramArguments"] == command


def test_windows_command_line_quotes_spaces() -> None:
    line = autostart_windows.command_line([r"C:\Program Files\Koppel\koppelw.exe", "agent", "run"])
    assert line == r'"C:\Program Files\Koppel\koppelw.exe" agent run'


def test_windows_runs_the_windowless_launcher_when_installed(tmp_path: Path) -> None:
    console = tmp_path / "koppel.exe"
    console.write_bytes(b"MZ")
    assert autostart_windows.windowless(console) == console
    # pip's launcher strips .exe from sys.argv[0]
    assert autostart_windows.windowless(tmp_path / "koppel") == console
    (tmp_path / "koppelw.exe").write_bytes(b"MZ")
    assert autostart_windows.windowless(console) == tmp_path / "koppelw.exe"
    assert autostart_windows.windowless(tmp_path / "koppel") == tmp_path / "koppelw.exe"


# --- Windows: the Run value through a fake winreg --------------------------------------------
def test_windows_enable_status_disable_with_a_fake_registry(tmp_path: Path) -> None:
    (tmp_path / "koppel.exe").write_bytes(b"MZ")
    (tmp_path / "koppelw.exe").write_bytes(b"MZ")
    registry = FakeWinreg()
    registry.keys[("HKCU", autostart_windows.RUN_KEY)] = {"OneDrive": ("onedrive.exe", 1)}
    system = System(platform="win32", registry=registry)

    enabled = autostart.enable(system, executable=tmp_path / "koppel.exe")
    run_key = registry.keys[("HKCU", r"Software\Microsoft\Windows\CurrentVersion\Run")]
    expected = subprocess.list2cmdline([str(tmp_path / "koppelw.exe"), "agent", "run"])
    assert run_key["Koppel agent"] == (expected, FakeWinreg.REG_SZ)
    assert enabled.location == (
        r"HKEY_CURRENT_USER\Software\Microsoft\Windows\CurrentVersion\Run\Koppel agent"
    )
    assert not any("console window" in note for note in enabled.notes)
    again = autostart.enable(system, executable=tmp_path / "koppel.exe")
    assert again.done == []  # idempotent: nothing rewritten

    found = autostart.status(system)
    assert (found.method, found.command) == ("run-key", expected)

    assert autostart.disable(system).done
    assert run_key == {"OneDrive": ("onedrive.exe", 1)}  # only our value removed
    assert not autostart.status(system).installed
    assert autostart.disable(system).notes == ["Autostart was not enabled; nothing to remove."]


def test_windows_without_koppelw_says_a_console_opens(tmp_path: Path) -> None:
    (tmp_path / "koppel.exe").write_bytes(b"MZ")
    report = autostart.enable(
        System(platform="win32", registry=FakeWinreg()), tmp_path / "koppel.exe"
    )
    assert report.command is not None and report.command.endswith("koppel.exe agent run")
    assert any("console window" in note for note in report.notes)


# --- macOS: the plist and launchctl as a fake runner ----------------------------------------
def test_macos_enable_bootstraps_in_the_gui_domain(home: Path) -> None:
    launchctl = FakeTool({("launchctl", "bootout"): (3, "", "Boot-out failed: 3: No such process")})
    system = System(platform="darwin", runner=launchctl, uid=501)
    report = autostart.enable(system, executable=Path("/Users/anna/.local/bin/koppel"))
    plist = home / "Library/LaunchAgents/nl.koppel.agent.plist"
    assert report.location == str(plist) and report.running
    assert plistlib.loads(plist.read_bytes())["ProgramArguments"] == [
        "/Users/anna/.local/bin/koppel",
        "agent",
        "run",
    ]
    assert launchctl.calls == [
        ["launchctl", "bootout", "gui/501/nl.koppel.agent"],
        ["launchctl", "bootstrap", "gui/501", str(plist)],
    ]
    assert (plist.stat().st_mode & 0o777) == 0o644
    status = autostart.status(System(platform="darwin", runner=FakeTool(), uid=501))
    assert (status.method, status.running) == ("launch-agent", True)

    quitting = FakeTool()
    autostart.disable(System(platform="darwin", runner=quitting, uid=501))
    assert quitting.calls == [["launchctl", "bootout", "gui/501/nl.koppel.agent"]]
    assert not plist.exists()


def test_macos_a_refused_bootstrap_keeps_the_file_for_the_next_login(home: Path) -> None:
    launchctl = FakeTool(
        {("launchctl", "bootstrap"): (5, "", "Bootstrap failed: 5: Input/output error")}
    )
    report = autostart.enable(
        System(platform="darwin", runner=launchctl, uid=501), Path("/k/koppel")
    )
    assert report.installed and report.running is False
    assert any("Input/output error" in note for note in report.notes)


# --- Linux with a systemd user manager (a fake systemctl) --------------------------------------
def test_linux_with_a_user_manager_enables_the_unit_now(home: Path) -> None:
    # A stale XDG entry from an enable without systemd must not start a second agent.
    stale = home / "config/autostart/koppel-agent.desktop"
    stale.parent.mkdir(parents=True)
    stale.write_text("[Desktop Entry]\n")
    systemctl = FakeTool()
    report = autostart.enable(System(platform="linux", runner=systemctl), Path("/k/koppel"))
    unit = home / "config/systemd/user/koppel-agent.service"
    assert unit.read_text() == autostart_linux.unit_file(["/k/koppel", "agent", "run"])
    assert systemctl.calls == [
        ["systemctl", "--user", "--no-pager", "show", "--property=Version"],
        ["systemctl", "--user", "daemon-reload"],
        ["systemctl", "--user", "enable", "--now", "koppel-agent.service"],
    ]
    assert report.method == "systemd" and not stale.exists()

    active = FakeTool({("systemctl", "--user", "is-active"): (0, "active\n", "")})
    found = autostart.status(System(platform="linux", runner=active))
    assert (found.method, found.running, found.command) == ("systemd", True, "/k/koppel agent run")

    stopping = FakeTool()
    autostart.disable(System(platform="linux", runner=stopping))
    assert stopping.calls == [
        ["systemctl", "--user", "disable", "--now", "koppel-agent.service"],
        ["systemctl", "--user", "daemon-reload"],
    ]
    assert not unit.exists()


def test_linux_falls_back_to_xdg_when_enabling_the_unit_fails(home: Path) -> None:
    systemctl = FakeTool(
        {("systemctl", "--user", "enable"): (1, "", "Failed to enable unit: Access denied")}
    )
    report = autostart.enable(System(platform="linux", runner=systemctl), Path("/k/koppel"))
    assert report.method == "xdg-autostart"
    assert not (home / "config/systemd/user/koppel-agent.service").exists()
    assert (home / "config/autostart/koppel-agent.desktop").exists()
    assert any("Access denied" in note for note in report.notes)


def test_linux_without_a_user_manager_writes_the_xdg_entry(home: Path) -> None:
    no_manager = FakeTool({("systemctl",): (1, "", "Failed to connect to bus: No medium found")})
    report = autostart.enable(System(platform="linux", runner=no_manager), Path("/k/koppel"))
    entry = home / "config/autostart/koppel-agent.desktop"
    assert entry.read_text() == autostart_linux.desktop_entry(["/k/koppel", "agent", "run"])
    assert report.method == "xdg-autostart" and report.running is None
    assert len(no_manager.calls) == 1
