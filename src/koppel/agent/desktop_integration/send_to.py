"""``koppel integrate install|uninstall|status``: "Send to Koppel" in the file managers of
this platform, each running ``koppel submit --gui FILES…`` (the submit window, prefilled).

Linux writes its files for real (tests validate them with ``desktop-file-validate``);
the Windows and macOS functions take the home or ``%APPDATA%`` folder and the command
runner as parameters, so that the tests run them here against a fake runner.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from koppel.agent.desktop_integration import send_to_linux, send_to_macos, send_to_windows
from koppel.agent.desktop_integration.launcher import (
    Runner,
    koppel_executable,
    run,
    windowless_command,
)
from koppel.agent.desktop_integration.url_handler import current_platform
from koppel.agent.local.atomic import atomic_write_bytes
from koppel.i18n import N_
from koppel.i18n import gettext as _

WROTE, REMOVED, ABSENT, CHANGED = range(4)
# What is said about each kind of entry, whole sentences (the kinds' words differ in
# gender and article in French): wrote, removed, does not exist, changed.
_SAID = {
    "desktop entry": (
        N_("wrote the desktop entry {path}"),
        N_("removed the desktop entry {path}"),
        N_("the desktop entry {path} does not exist"),
        N_("the desktop entry {path} was written by another Koppel install or changed since"),
    ),
    "Nautilus script": (
        N_("wrote the Nautilus script {path}"),
        N_("removed the Nautilus script {path}"),
        N_("the Nautilus script {path} does not exist"),
        N_("the Nautilus script {path} was written by another Koppel install or changed since"),
    ),
    "Dolphin service menu": (
        N_("wrote the Dolphin service menu {path}"),
        N_("removed the Dolphin service menu {path}"),
        N_("the Dolphin service menu {path} does not exist"),
        N_(
            "the Dolphin service menu {path} was written by another Koppel install or changed since"
        ),
    ),
    "SendTo shortcut": (
        N_("wrote the SendTo shortcut {path}"),
        N_("removed the SendTo shortcut {path}"),
        N_("the SendTo shortcut {path} does not exist"),
        N_("the SendTo shortcut {path} was written by another Koppel install or changed since"),
    ),
    "Quick Action": (
        N_("wrote the Quick Action {path}"),
        N_("removed the Quick Action {path}"),
        N_("the Quick Action {path} does not exist"),
        N_("the Quick Action {path} was written by another Koppel install or changed since"),
    ),
}


def said(kind: str, what: int, path: object) -> str:
    """The sentence for ``what`` happened to an entry of ``kind`` at ``path``."""
    return _(_SAID[kind][what]).format(path=path)


@dataclass
class Entry:
    """One file that makes "Send to Koppel" appear somewhere."""

    kind: str
    path: str
    present: bool

    def as_json(self) -> dict[str, Any]:
        """The entry as ``--json`` prints it."""
        return {"kind": self.kind, "path": self.path, "present": self.present}


@dataclass
class IntegrationReport:
    """What ``koppel integrate`` did or found."""

    platform: str
    command: str
    entries: list[Entry] = field(default_factory=list)
    done: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def installed(self) -> bool:
        """Every entry is there and nothing is missing."""
        return bool(self.entries) and all(e.present for e in self.entries) and not self.missing

    def as_json(self) -> dict[str, Any]:
        """The report as ``--json`` prints it."""
        return {
            "platform": self.platform,
            "installed": self.installed,
            "command": self.command,
            "entries": [entry.as_json() for entry in self.entries],
            "done": self.done,
            "missing": self.missing,
        }


def install() -> IntegrationReport:
    """Add "Send to Koppel" on this platform."""
    where = current_platform()
    if where == "windows":
        return windows_install(os.environ.get("APPDATA", ""), koppel_executable(), run)
    if where == "macos":
        return macos_install(Path.home(), koppel_executable(), run)
    return linux_install(koppel_executable())


def status() -> IntegrationReport:
    """Whether "Send to Koppel" is there on this platform."""
    where = current_platform()
    if where == "windows":
        return windows_status(os.environ.get("APPDATA", ""), koppel_executable())
    if where == "macos":
        return macos_status(Path.home(), koppel_executable())
    return linux_status(koppel_executable())


def uninstall() -> IntegrationReport:
    """Remove "Send to Koppel" on this platform."""
    where = current_platform()
    if where == "windows":
        return windows_uninstall(os.environ.get("APPDATA", ""), koppel_executable())
    if where == "macos":
        return macos_uninstall(Path.home(), koppel_executable(), run)
    return linux_uninstall(koppel_executable())


# --- Linux ---------------------------------------------------------------------------------
def _linux_report(koppel: Path) -> IntegrationReport:
    return IntegrationReport("linux", f"{koppel} submit --gui FILES…")


def linux_install(koppel: Path) -> IntegrationReport:
    """Write the .desktop entry, the Nautilus script and the Dolphin service menu."""
    report = _linux_report(koppel)
    for wanted in send_to_linux.files(koppel):
        mode = 0o755 if wanted.executable else 0o644
        atomic_write_bytes(wanted.path, wanted.content.encode("utf-8"), mode)
        report.entries.append(Entry(wanted.kind, str(wanted.path), True))
        report.done.append(said(wanted.kind, WROTE, wanted.path))
    _refresh_desktop_database(koppel)
    return report


def _refresh_desktop_database(koppel: Path) -> None:
    # The file managers read the MIME cache: it must list the entry, and forget it again.
    applications = send_to_linux.files(koppel)[0].path.parent
    if shutil.which("update-desktop-database") and applications.is_dir():
        run(["update-desktop-database", str(applications)])


def linux_status(koppel: Path) -> IntegrationReport:
    """Check each file is there and runs this agent."""
    report = _linux_report(koppel)
    for wanted in send_to_linux.files(koppel):
        try:
            found: str | None = wanted.path.read_text(encoding="utf-8")
        except OSError:
            found = None
        report.entries.append(Entry(wanted.kind, str(wanted.path), found is not None))
        if found is None:
            report.missing.append(said(wanted.kind, ABSENT, wanted.path))
        elif found != wanted.content:
            report.missing.append(said(wanted.kind, CHANGED, wanted.path))
    return report


def linux_uninstall(koppel: Path) -> IntegrationReport:
    """Remove the three files (the Nautilus script under its name in any language)."""
    report = _linux_report(koppel)
    for wanted in send_to_linux.files(koppel):
        paths = [wanted.path]
        if wanted.kind == "Nautilus script":
            paths += [wanted.path.with_name(n) for n in send_to_linux.script_names()]
        for path in dict.fromkeys(paths):
            if path.exists():
                path.unlink()
                report.done.append(said(wanted.kind, REMOVED, path))
        report.entries.append(Entry(wanted.kind, str(wanted.path), False))
    _refresh_desktop_database(koppel)
    return report


# --- Windows -------------------------------------------------------------------------------
def _windows_report(koppel: Path) -> IntegrationReport:
    launcher = windowless_command(koppel)
    return IntegrationReport("windows", " ".join([*launcher, "submit", "--gui", "FILES…"]))


def windows_install(appdata: str, koppel: Path, runner: Runner) -> IntegrationReport:
    """Write the SendTo shortcut through PowerShell (COM's ``WScript.Shell``)."""
    report = _windows_report(koppel)
    shortcut = send_to_windows.shortcut_path(appdata)
    if not appdata:
        report.missing.append(_("%APPDATA% is not set, so the SendTo folder is unknown"))
        return report
    command = send_to_windows.powershell_command(shortcut, windowless_command(koppel))
    code, output = runner(command)
    present = code == 0
    report.entries.append(Entry("SendTo shortcut", str(shortcut), present))
    if present:
        report.done.append(said("SendTo shortcut", WROTE, shortcut))
    else:
        reason = output or _("exit code {code}").format(code=code)
        report.missing.append(
            _("PowerShell could not write {path}: {reason}").format(path=shortcut, reason=reason)
        )
    return report


def windows_status(appdata: str, koppel: Path) -> IntegrationReport:
    """Whether the shortcut exists (its target is not read: that needs COM too)."""
    report = _windows_report(koppel)
    shortcut = send_to_windows.shortcut_path(appdata)
    present = bool(appdata) and Path(shortcut).is_file()
    report.entries.append(Entry("SendTo shortcut", str(shortcut), present))
    if not present:
        report.missing.append(said("SendTo shortcut", ABSENT, shortcut))
    return report


def windows_uninstall(appdata: str, koppel: Path) -> IntegrationReport:
    """Delete the shortcut (under its name in any language)."""
    report = _windows_report(koppel)
    shortcut = Path(send_to_windows.shortcut_path(appdata))
    for name in send_to_windows.shortcut_names():
        found = Path(send_to_windows.shortcut_path(appdata).with_name(name))
        if appdata and found.is_file():
            found.unlink()
            report.done.append(said("SendTo shortcut", REMOVED, found))
    report.entries.append(Entry("SendTo shortcut", str(shortcut), False))
    return report


# --- macOS ---------------------------------------------------------------------------------
def _macos_report(koppel: Path) -> IntegrationReport:
    return IntegrationReport("macos", f"{koppel} submit --gui FILES…")


def macos_install(home: Path, koppel: Path, runner: Runner) -> IntegrationReport:
    """Write the Quick Action bundle and refresh the services menu."""
    report = _macos_report(koppel)
    bundle = send_to_macos.workflow_path(home)
    if bundle.exists():
        shutil.rmtree(bundle)
    for relative, content in send_to_macos.bundle_files(koppel).items():
        path = bundle / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    report.entries.append(Entry("Quick Action", str(bundle), True))
    report.done.append(said("Quick Action", WROTE, bundle))
    code, _output = runner([send_to_macos.PBS, "-update"])
    if code == 0:
        report.done.append(_("refreshed the services menu"))
    return report


def macos_status(home: Path, koppel: Path) -> IntegrationReport:
    """Whether the bundle is there and runs this agent."""
    report = _macos_report(koppel)
    bundle = send_to_macos.workflow_path(home)
    expected = send_to_macos.bundle_files(koppel)
    try:
        same = all((bundle / rel).read_bytes() == content for rel, content in expected.items())
        present = True
    except OSError:
        same = present = False
    report.entries.append(Entry("Quick Action", str(bundle), present))
    if not present:
        report.missing.append(said("Quick Action", ABSENT, bundle))
    elif not same:
        report.missing.append(said("Quick Action", CHANGED, bundle))
    return report


def macos_uninstall(home: Path, koppel: Path, runner: Runner) -> IntegrationReport:
    """Delete the bundle and refresh the services menu."""
    report = _macos_report(koppel)
    bundle = send_to_macos.workflow_path(home)
    if bundle.exists():
        shutil.rmtree(bundle)
        report.done.append(said("Quick Action", REMOVED, bundle))
        runner([send_to_macos.PBS, "-update"])
    report.entries.append(Entry("Quick Action", str(bundle), False))
    return report
