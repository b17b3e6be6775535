"""`koppel handler` on Windows and macOS, run on this Linux machine against fakes.

This machine has no Windows registry and no macOS: the tests check the registry keys and
values written (a fake ``winreg``), and the applet's script, its Info.plist and the
commands run (osacompile, codesign, lsregister: a fake runner). Whether Windows really
starts koppelw.exe for a link, and whether the applet receives the link's Apple Event, was
not exercised here (docs/desktop-integration.md says so)."""

from __future__ import annotations

import os
import plistlib
import subprocess
import sys
from pathlib import Path

import pytest

from desktop_fakes import FakeRegistry, FakeRunner
from koppel.agent.desktop_integration import macos_app, url_handler, windows_registry
from koppel.agent.desktop_integration.launcher import windowless_command

SCRIPTS = Path(r"C:\Users\anna\AppData\Roaming\Python\Python311\Scripts")


def test_windows_registers_the_windowless_launcher_under_hkcu(tmp_path: Path) -> None:
    scripts = tmp_path / "Scripts"
    scripts.mkdir()
    (scripts / "koppel.exe").write_bytes(b"MZ")
    (scripts / "koppelw.exe").write_bytes(b"MZ")
    registry = FakeRegistry()

    report = url_handler.windows_install(registry, scripts / "koppel.exe")

    assert report.registered and report.platform == "windows"
    root = registry.values(r"Software\Classes\koppel")
    assert root == {"": (1, "URL:Koppel link"), "URL Protocol": (1, "")}
    command = registry.values(r"Software\Classes\koppel\shell\open\command")
    assert command == {"": (1, f'"{scripts / "koppelw.exe"}" "open-link" "%1"')}
    assert all(key.closed for key in registry.opened)
    assert report.as_json()["location"] == r"HKEY_CURRENT_USER\Software\Classes\koppel"

    status = url_handler.windows_status(registry)
    assert status.registered and status.missing == []
    assert status.executable == str(scripts / "koppelw.exe")

    (scripts / "koppelw.exe").unlink()  # the agent was uninstalled: status says so
    gone = url_handler.windows_status(registry)
    assert not gone.registered and "does not exist" in gone.missing[0]

    removed = url_handler.windows_uninstall(registry)
    assert registry.keys == {"software": {}, r"software\classes": {}}
    assert removed.done == [r"removed HKEY_CURRENT_USER\Software\Classes\koppel"]
    assert url_handler.windows_uninstall(registry).done[0].endswith("did not exist")
    assert "not a URL protocol" in url_handler.windows_status(registry).missing[0]


def test_windows_launcher_prefers_koppelw_then_pythonw() -> None:
    koppel = SCRIPTS / "koppel.exe"
    assert windowless_command(koppel, lambda p: p.name == "koppelw.exe") == [
        str(SCRIPTS / "koppelw.exe")
    ]
    venv = Path(r"C:\koppel\.venv\Scripts\koppel.exe")
    assert windowless_command(venv, lambda p: p.name == "pythonw.exe") == [
        str(venv.parent / "pythonw.exe"),
        "-m",
        "koppel.agent",
    ]
    assert windowless_command(koppel, lambda p: False) == [str(koppel)]
    assert windows_registry.handler_command(["C:\\a b\\pythonw.exe", "-m", "koppel.agent"]) == (
        '"C:\\a b\\pythonw.exe" "-m" "koppel.agent" "open-link" "%1"'
    )


def test_macos_builds_declares_seals_and_registers_the_applet(tmp_path: Path) -> None:
    home = tmp_path / "anna"
    koppel = tmp_path / "bin with space/koppel"
    koppel.parent.mkdir()
    koppel.write_text("#!/bin/sh\n")
    runner = FakeRunner()

    report = url_handler.macos_install(home, koppel, runner)

    app = home / "Applications/Koppel Link Handler.app"
    assert report.registered and report.location == str(app)
    assert runner.commands[0][:3] == ["osacompile", "-o", str(app)]
    assert runner.commands[1:] == [
        ["codesign", "--force", "--sign", "-", str(app)],
        [macos_app.LSREGISTER, "-f", str(app)],
    ]
    assert runner.sources == [
        "on open location theURL\n"
        f'\tdo shell script quoted form of "{koppel}" & " open-link " & quoted form of '
        'theURL & " > /dev/null 2>&1 &"\n'
        "end open location\n"
    ]
    with (app / "Contents/Info.plist").open("rb") as handle:
        info = plistlib.load(handle)
    assert info == {
        "CFBundleExecutable": "applet",  # osacompile's, kept
        "CFBundlePackageType": "APPL",
        "CFBundleIdentifier": "org.koppel.link-handler",
        "CFBundleName": "Koppel Link Handler",
        "CFBundleURLTypes": [{"CFBundleURLName": "Koppel link", "CFBundleURLSchemes": ["koppel"]}],
        "LSUIElement": True,
        "KoppelExecutable": str(koppel),
    }
    assert url_handler.macos_status(home).registered

    # Another app chosen for koppel:// in Launch Services: status says so.
    handlers = home / macos_app.LS_HANDLERS
    handlers.parent.mkdir(parents=True)
    with handlers.open("wb") as handle:
        plistlib.dump(
            {"LSHandlers": [{"LSHandlerURLScheme": "koppel", "LSHandlerRoleAll": "com.x"}]},
            handle,
        )
    other = url_handler.macos_status(home)
    assert not other.registered and "open with com.x" in other.missing[0]

    removed = url_handler.macos_uninstall(home, runner)
    assert runner.commands[-1] == [macos_app.LSREGISTER, "-u", str(app)]
    assert not app.exists() and removed.done == [f"unregistered and removed {app}"]
    assert "does not exist" in url_handler.macos_status(home).missing[0]


@pytest.mark.parametrize("tool", ["osacompile", "lsregister"])
def test_macos_says_which_step_failed(tmp_path: Path, tool: str) -> None:
    report = url_handler.macos_install(tmp_path, Path("/usr/local/bin/koppel"), FakeRunner(tool))
    assert not report.registered
    assert report.missing[0].startswith(f"{tool} could not")
    assert report.missing[0].endswith("run `koppel handler install` again")


def test_a_windowless_agent_writes_its_messages_to_a_log(tmp_path: Path) -> None:
    """koppelw.exe and pythonw.exe start the agent with sys.stdout and sys.stderr set to
    None; this runs the real entry point in such a process (on Linux, by setting them so)
    and finds the refusal of a bad link in koppelw.log instead of a crash."""
    agent_home = tmp_path / "agent"
    program = (
        "import sys\n"
        "sys.stdout = sys.stderr = None\n"
        "sys.argv = ['koppelw', 'open-link', 'https://example.com/']\n"
        "from koppel.agent.cli import main\n"
        "main()\n"
    )
    env = {**os.environ, "KOPPEL_AGENT_HOME": str(agent_home), "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout == "" and "Traceback" not in done.stderr
    log = (agent_home / "koppelw.log").read_text()
    assert log.startswith("--- ") and "koppel open-link https://example.com/\n" in log
    assert "Not a Koppel link this agent can open" in log
