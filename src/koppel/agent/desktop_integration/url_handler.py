"""``koppel handler install|status|uninstall``: register this agent for ``koppel://`` links
on the platform it runs on (Linux: a .desktop file; Windows: registry keys; macOS: a
generated applet registered with Launch Services) and say what is missing.

The Windows and macOS functions take the registry, the command runner and the home
folder as parameters so that the tests can run them on Linux against fakes.
"""

from __future__ import annotations

import sys
from pathlib import Path

from koppel.agent.desktop_integration import linux_handler, macos_app, windows_registry
from koppel.agent.desktop_integration.handler_report import HandlerReport
from koppel.agent.desktop_integration.launcher import (
    Runner,
    koppel_executable,
    run,
    windowless_command,
)
from koppel.i18n import gettext as _


def current_platform() -> str:
    """``windows``, ``macos`` or ``linux`` (every other Unix is served like Linux)."""
    if sys.platform == "win32":
        return "windows"
    if sys.platform == "darwin":
        return "macos"
    return "linux"


def install() -> HandlerReport:
    """Register the handler on this platform."""
    where = current_platform()
    if where == "windows":
        return windows_install(windows_registry.real_registry(), koppel_executable())
    if where == "macos":
        return macos_install(Path.home(), koppel_executable(), run)
    return linux_handler.install()


def status() -> HandlerReport:
    """Whether ``koppel://`` links reach this agent on this platform."""
    where = current_platform()
    if where == "windows":
        return windows_status(windows_registry.real_registry())
    if where == "macos":
        return macos_status(Path.home())
    return linux_handler.status()


def uninstall() -> HandlerReport:
    """Remove the handler on this platform."""
    where = current_platform()
    if where == "windows":
        return windows_uninstall(windows_registry.real_registry())
    if where == "macos":
        return macos_uninstall(Path.home(), run)
    return linux_handler.uninstall()


# --- Windows -------------------------------------------------------------------------------
def _windows_report(registered: bool, executable: str | None) -> HandlerReport:
    return HandlerReport(
        None,
        executable,
        registered=registered,
        platform="windows",
        location=windows_registry.SHOWN_AS,
    )


def windows_install(registry: windows_registry.Registry, koppel: Path) -> HandlerReport:
    """Write the registry keys; the command is the windowless launcher."""
    launcher = windowless_command(koppel)
    command = windows_registry.install(registry, launcher)
    report = _windows_report(True, launcher[0])
    report.default_handler = command
    report.done.append(
        _("wrote {key} (runs {command})").format(key=windows_registry.SHOWN_AS, command=command)
    )
    if Path(launcher[0]).name.lower() not in ("koppelw.exe", "pythonw.exe"):
        report.done.append(
            _(
                "no windowless launcher (koppelw.exe) was found beside koppel.exe, so a console "
                "window shows while a link is opened; reinstall the agent to get it"
            )
        )
    return report


def windows_status(registry: windows_registry.Registry) -> HandlerReport:
    """Read the keys back and check that the program they run exists."""
    found = windows_registry.state(registry)
    program = found.command.split('"')[1] if found.command and '"' in found.command else None
    report = _windows_report(False, program)
    report.default_handler = found.command
    if not found.protocol:
        report.missing.append(
            _("{key} is not a URL protocol: run `koppel handler install`").format(
                key=windows_registry.SHOWN_AS
            )
        )
    if found.command is None:
        report.missing.append(_("no command is registered for koppel:// links"))
    elif program is None or not Path(program).is_file():
        report.missing.append(
            _(
                "koppel:// links run {program}, which does not exist: run `koppel handler install`"
            ).format(program=program or found.command)
        )
    report.registered = not report.missing
    return report


def windows_uninstall(registry: windows_registry.Registry) -> HandlerReport:
    """Delete the keys."""
    report = _windows_report(False, None)
    removed = windows_registry.uninstall(registry)
    said = _("removed {key}") if removed else _("{key} did not exist")
    report.done.append(said.format(key=windows_registry.SHOWN_AS))
    return report


# --- macOS ---------------------------------------------------------------------------------
def _macos_report(home: Path, executable: str | None) -> HandlerReport:
    return HandlerReport(
        None,
        executable,
        registered=False,
        platform="macos",
        location=str(macos_app.app_path(home)),
    )


def macos_install(home: Path, koppel: Path, runner: Runner) -> HandlerReport:
    """Build and register the applet; a failing tool is reported as missing (exit 3)."""
    report = _macos_report(home, str(koppel))
    try:
        report.done.extend(macos_app.install(home, koppel, runner))
    except OSError as exc:
        report.missing.append(_("{reason}; run `koppel handler install` again").format(reason=exc))
        return report
    report.registered = True
    report.default_handler = macos_app.state(home).default_handler or macos_app.BUNDLE_ID
    return report


def macos_status(home: Path) -> HandlerReport:
    """Check the applet's Info.plist and Launch Services' recorded choice."""
    found = macos_app.state(home)
    report = _macos_report(home, found.executable)
    report.default_handler = found.default_handler
    if not found.exists:
        report.missing.append(
            _("{app} does not exist: run `koppel handler install`").format(app=found.app)
        )
    elif not found.declares_scheme:
        report.missing.append(
            _("{app} does not declare koppel:// links: run `koppel handler install`").format(
                app=found.app
            )
        )
    elif found.executable is None or not Path(found.executable).is_file():
        report.missing.append(
            _("{app} runs {program}, which does not exist: run `koppel handler install`").format(
                app=found.app, program=found.executable or _("an unknown koppel")
            )
        )
    if found.default_handler not in (None, macos_app.BUNDLE_ID):
        report.missing.append(
            _(
                "koppel:// links open with {handler}, not Koppel: run `koppel handler install` "
                "and choose Koppel Link Handler when macOS asks"
            ).format(handler=found.default_handler)
        )
    report.registered = not report.missing
    return report


def macos_uninstall(home: Path, runner: Runner) -> HandlerReport:
    """Unregister and delete the applet."""
    report = _macos_report(home, None)
    report.done.extend(macos_app.uninstall(home, runner))
    return report
