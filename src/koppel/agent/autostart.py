"""``koppel autostart enable|disable|status``: start the background agent (``koppel agent
run``) when the user logs in.

One mechanism per platform, each in its own module of ``local/``:

- Linux: a systemd user unit, enabled and started with ``systemctl --user enable --now``
  when the user's service manager answers; otherwise an XDG autostart entry that the
  desktop session starts at the next login.
- macOS: a LaunchAgent plist, loaded with ``launchctl bootstrap gui/UID``.
- Windows: a ``Run`` value under HKCU, running the windowless ``koppelw``.

Everything is idempotent: ``enable`` twice leaves one entry, ``disable`` removes exactly
what ``enable`` writes (files and values of our names only) and is fine when nothing is
there.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from koppel.agent.desktop_integration.launcher import koppel_executable
from koppel.agent.errors import AgentError
from koppel.agent.local import autostart_linux as linux
from koppel.agent.local import autostart_macos as macos
from koppel.agent.local import autostart_windows as windows
from koppel.agent.local.config_files import remove, write_if_changed
from koppel.agent.local.system_commands import Runner
from koppel.agent.local.system_commands import run as run_command
from koppel.i18n import gettext as _

AGENT_RUN = ("agent", "run")
SYSTEMD, XDG, LAUNCH_AGENT, RUN_VALUE = "systemd", "xdg-autostart", "launch-agent", "run-key"


@dataclass
class AutostartReport:
    """What ``koppel autostart`` did or found."""

    platform: str
    method: str | None = None  # which mechanism is installed (None: nothing)
    location: str | None = None  # its file, or the registry value
    command: str | None = None  # what it runs, as written there
    running: bool | None = None  # started now by the service manager (None: not known)
    done: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def installed(self) -> bool:
        """True when the agent starts at login."""
        return self.method is not None

    def as_json(self) -> dict[str, Any]:
        """The report as ``--json`` prints it."""
        return {
            "platform": self.platform,
            "installed": self.installed,
            "method": self.method,
            "location": self.location,
            "command": self.command,
            "running": self.running,
            "done": self.done,
            "notes": self.notes,
        }


@dataclass
class System:
    """What the platform gives: its name, a runner for its tools, and on Windows the
    registry module. Tests pass fakes for what cannot run here."""

    platform: str = sys.platform
    runner: Runner = run_command
    registry: Any = None
    uid: int | None = None

    def kind(self) -> str:
        """``linux``, ``macos`` or ``windows``."""
        if self.platform.startswith("win"):
            return "windows"
        if self.platform == "darwin":
            return "macos"
        if self.platform.startswith("linux") or "bsd" in self.platform:
            return "linux"
        raise AgentError(
            _("Starting the agent at login is not supported on {platform}.").format(
                platform=self.platform
            )
        )

    def winreg(self) -> Any:
        """The registry module (``winreg``, imported only on Windows)."""
        if self.registry is None:
            import winreg

            self.registry = winreg
        return self.registry

    def user_id(self) -> int:
        """The user's numeric id (the launchd GUI domain is per user)."""
        return self.uid if self.uid is not None else os.getuid()


def agent_command(system: System, executable: Path | None = None) -> list[str]:
    """The command autostart runs: this installation's ``koppel agent run`` (``koppelw`` on
    Windows, so that no console window opens)."""
    if executable is None and system.kind() == "windows":
        # pip's launcher leaves sys.argv[0] without its .exe, which koppel_executable
        # would then look up on the PATH: the launcher's own folder is the right one.
        launched = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
        if launched is not None and launched.with_name(launched.name + ".exe").is_file():
            executable = launched.absolute()
    found = executable or koppel_executable()
    if system.kind() == "windows":
        found = windows.windowless(found)
    return [str(found), *AGENT_RUN]


def enable(system: System | None = None, executable: Path | None = None) -> AutostartReport:
    """Install the autostart entry for this platform and start the agent where the
    platform can (systemd, launchd)."""
    system = system or System()
    command = agent_command(system, executable)
    kind = system.kind()
    if kind == "windows":
        return _enable_windows(system, command)
    if kind == "macos":
        return _enable_macos(system, command)
    return _enable_linux(system, command)


def disable(system: System | None = None) -> AutostartReport:
    """Remove what ``enable`` installed (stopping the agent that systemd or launchd runs)."""
    system = system or System()
    kind = system.kind()
    report = AutostartReport(kind)
    if kind == "windows":
        if windows.delete(system.winreg()):
            report.done.append(
                _("removed the registry value {location}").format(location=windows.LOCATION)
            )
    elif kind == "macos":
        path = macos.plist_path()
        if path.exists() and macos.bootout(system.runner, system.user_id()):
            report.done.append(_("stopped the agent (launchctl bootout)"))
        if remove(path):
            report.done.append(_("removed {path}").format(path=path))
    else:
        unit = linux.unit_path()
        if unit.exists():
            stopped = linux.systemctl(system.runner, "disable", "--now", linux.UNIT_NAME)
            if stopped.returncode == 0:
                report.done.append(_("stopped and disabled the agent's systemd user unit"))
        if remove(unit):
            report.done.append(_("removed {path}").format(path=unit))
            linux.systemctl(system.runner, "daemon-reload")
        desktop = linux.desktop_path()
        if remove(desktop):
            report.done.append(_("removed {path}").format(path=desktop))
    if not report.done:
        report.notes.append(_("Autostart was not enabled; nothing to remove."))
    return report


def status(system: System | None = None) -> AutostartReport:
    """What is installed and where (and, where the platform says so, whether it runs)."""
    system = system or System()
    kind = system.kind()
    report = AutostartReport(kind)
    if kind == "windows":
        line = windows.read(system.winreg())
        if line is not None:
            report.method, report.location, report.command = RUN_VALUE, windows.LOCATION, line
    elif kind == "macos":
        path = macos.plist_path()
        arguments = macos.program_arguments(path)
        if arguments is not None:
            report.method, report.location = LAUNCH_AGENT, str(path)
            report.command = " ".join(arguments)
            report.running = macos.loaded(system.runner, system.user_id())
    else:
        unit, desktop = linux.unit_path(), linux.desktop_path()
        if unit.exists():
            report.method, report.location = SYSTEMD, str(unit)
            report.command = linux.exec_line(unit, "ExecStart")
            active = linux.systemctl(system.runner, "is-active", linux.UNIT_NAME)
            report.running = active.stdout.strip() == "active" if active.returncode != 127 else None
        elif desktop.exists():
            report.method, report.location = XDG, str(desktop)
            report.command = linux.exec_line(desktop, "Exec")
    return report


def _enable_linux(system: System, command: list[str]) -> AutostartReport:
    report = AutostartReport("linux")
    unit, desktop = linux.unit_path(), linux.desktop_path()
    if linux.user_manager_answers(system.runner):
        wrote = write_if_changed(unit, linux.unit_file(command).encode())
        if wrote:
            report.done.append(_("wrote {path}").format(path=unit))
        linux.systemctl(system.runner, "daemon-reload")
        started = linux.systemctl(system.runner, "enable", "--now", linux.UNIT_NAME)
        if started.returncode == 0:
            report.done.append(_("enabled and started it (systemctl --user enable --now)"))
            # One mechanism at a time: an entry from an earlier enable without systemd
            # would start a second agent at login.
            if remove(desktop):
                report.done.append(_("removed the older {path}").format(path=desktop))
            report.method, report.location, report.running = SYSTEMD, str(unit), True
            report.command = linux.exec_line(unit, "ExecStart")
            return report
        reason = (started.stderr or started.stdout).strip().splitlines()
        if reason:
            said = _(
                "systemd did not enable the agent's unit ({reason}); using the desktop's "
                "autostart folder instead."
            ).format(reason=reason[-1])
        else:
            said = _(
                "systemd did not enable the agent's unit; using the desktop's autostart "
                "folder instead."
            )
        report.notes.append(said)
        remove(unit)
        linux.systemctl(system.runner, "daemon-reload")
    if write_if_changed(desktop, linux.desktop_entry(command).encode()):
        report.done.append(_("wrote {path}").format(path=desktop))
    report.method, report.location = XDG, str(desktop)
    report.command = linux.exec_line(desktop, "Exec")
    report.notes.append(
        _("The agent starts at your next login; to start it now, run `koppel agent run`.")
    )
    return report


def _enable_macos(system: System, command: list[str]) -> AutostartReport:
    report = AutostartReport("macos")
    path = macos.plist_path()
    macos.log_path().parent.mkdir(parents=True, exist_ok=True)
    if write_if_changed(path, macos.launch_agent(command)):
        report.done.append(_("wrote {path}").format(path=path))
    loaded, message = macos.bootstrap(system.runner, system.user_id(), path)
    report.method, report.location, report.command = LAUNCH_AGENT, str(path), " ".join(command)
    report.running = loaded
    if loaded:
        report.done.append(_("started it (launchctl bootstrap)"))
    elif message:
        report.notes.append(
            _(
                "launchd did not start the agent now ({reason}); it starts at your next login."
            ).format(reason=message)
        )
    else:
        report.notes.append(_("launchd did not start the agent now; it starts at your next login."))
    return report


def _enable_windows(system: System, command: list[str]) -> AutostartReport:
    report = AutostartReport("windows")
    registry = system.winreg()
    if windows.write(registry, command):
        report.done.append(_("set the registry value {location}").format(location=windows.LOCATION))
    report.method, report.location = RUN_VALUE, windows.LOCATION
    report.command = windows.command_line(command)
    if Path(command[0]).stem != "koppelw":
        report.notes.append(
            _(
                "koppelw.exe is not installed beside koppel.exe, so a console window opens at "
                "login; reinstall the agent with pip or pipx to get it."
            )
        )
    report.notes.append(
        _("The agent starts at your next login; to start it now, run `koppel agent run`.")
    )
    return report
