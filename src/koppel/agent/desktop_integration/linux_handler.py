"""The ``koppel://`` handler on Linux: a .desktop file in ``~/.local/share/applications``
made the default for ``x-scheme-handler/koppel`` with ``xdg-mime``."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from koppel.agent.desktop_integration.handler_report import HandlerReport
from koppel.agent.desktop_integration.launcher import koppel_executable
from koppel.agent.desktop_integration.send_to_linux import localized
from koppel.agent.local.atomic import atomic_write_bytes
from koppel.agent.local.freedesktop import applications_dir, exec_argument
from koppel.i18n import N_
from koppel.i18n import gettext as _
from koppel.protocol.links import SCHEME

HANDLER_NAME = N_("Koppel link handler")
HANDLER_COMMENT = N_("Opens koppel:// links (Edit on my computer) with the Koppel agent")

DESKTOP_FILE = "koppel-url.desktop"
MIME_TYPE = f"x-scheme-handler/{SCHEME}"


def desktop_path() -> Path:
    """The handler's .desktop file."""
    return applications_dir() / DESKTOP_FILE


def desktop_entry(executable: Path) -> str:
    """The .desktop file that makes ``executable open-link URL`` handle koppel:// links."""
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        + localized("Name", HANDLER_NAME)
        + localized("Comment", HANDLER_COMMENT)
        + f"Exec={exec_argument(str(executable))} open-link %u\n"
        "Terminal=false\n"
        "NoDisplay=true\n"
        f"MimeType={MIME_TYPE};\n"
    )


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)


def _default_handler() -> str | None:
    if not shutil.which("xdg-mime"):
        return None
    answer = _run(["xdg-mime", "query", "default", MIME_TYPE])
    return answer.stdout.strip() or None if answer.returncode == 0 else None


def _exec_of(path: Path) -> str | None:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    return next((line[5:] for line in lines if line.startswith("Exec=")), None)


def install() -> HandlerReport:
    """Write the .desktop file and make it the default handler with ``xdg-mime`` (and
    refresh the desktop database when ``update-desktop-database`` exists)."""
    executable = koppel_executable()
    target = desktop_path()
    atomic_write_bytes(target, desktop_entry(executable).encode("utf-8"), 0o644)
    report = HandlerReport(target, str(executable), registered=False, location=str(target))
    report.done.append(
        _("wrote {path} (Exec={executable} open-link %u)").format(
            path=target, executable=executable
        )
    )
    if shutil.which("update-desktop-database"):
        refreshed = _run(["update-desktop-database", str(target.parent)])
        if refreshed.returncode == 0:
            report.done.append(
                _("refreshed the desktop database of {folder}").format(folder=target.parent)
            )
    if not shutil.which("xdg-mime"):
        report.missing.append(
            _(
                "xdg-mime is not installed (package xdg-utils), so the handler is not the "
                "default for koppel:// links yet: install xdg-utils and run `koppel handler "
                "install` again, or run `xdg-mime default {file} {mime_type}`"
            ).format(file=DESKTOP_FILE, mime_type=MIME_TYPE)
        )
        return report
    answer = _run(["xdg-mime", "default", DESKTOP_FILE, MIME_TYPE])
    if answer.returncode != 0:
        reason = answer.stderr.strip() or _("exit code {code}").format(code=answer.returncode)
        report.missing.append(
            _("`xdg-mime default {file} {mime_type}` failed: {reason}").format(
                file=DESKTOP_FILE, mime_type=MIME_TYPE, reason=reason
            )
        )
        return report
    report.done.append(
        _("made {file} the default for {mime_type} (xdg-mime)").format(
            file=DESKTOP_FILE, mime_type=MIME_TYPE
        )
    )
    report.default_handler = _default_handler()
    report.registered = True
    return report


def status() -> HandlerReport:
    """Whether the .desktop file exists, what it runs, and the desktop's default handler."""
    target = desktop_path()
    command = _exec_of(target) if target.is_file() else None
    report = HandlerReport(target, command, registered=False, location=str(target))
    if command is None:
        report.missing.append(
            _("{path} does not exist: run `koppel handler install`").format(path=target)
        )
        return report
    executable = command.removesuffix(" open-link %u").strip('"')
    report.executable = executable
    if not Path(executable.replace("\\\\", "\\")).is_file():
        report.missing.append(
            _("{path} runs {program}, which does not exist: run `koppel handler install`").format(
                path=target, program=executable
            )
        )
    if not shutil.which("xdg-mime"):
        report.missing.append(_("xdg-mime is not installed, so the default handler is unknown"))
    else:
        report.default_handler = _default_handler()
        if report.default_handler != DESKTOP_FILE:
            said = (
                _(
                    "the default handler of {mime_type} is {handler}, not Koppel: run "
                    "`koppel handler install`"
                )
                if report.default_handler
                else _(
                    "the default handler of {mime_type} is not set: run `koppel handler install`"
                )
            )
            report.missing.append(said.format(mime_type=MIME_TYPE, handler=report.default_handler))
    report.registered = not report.missing
    return report


def _forget_default() -> bool:
    """Remove ``x-scheme-handler/koppel=koppel-url.desktop`` from the user's mimeapps.list
    (xdg-mime cannot unset a default); other lines are kept as they are."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    path = Path(base) / "mimeapps.list"
    try:
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    except OSError:
        return False
    ours = f"{MIME_TYPE}={DESKTOP_FILE}"
    kept = [line for line in lines if line.strip().rstrip(";") != ours]
    if len(kept) == len(lines):
        return False
    path.write_text("".join(kept), encoding="utf-8")
    return True


def uninstall() -> HandlerReport:
    """Remove the .desktop file and the default association that names it."""
    target = desktop_path()
    report = HandlerReport(target, _exec_of(target), registered=False, location=str(target))
    if target.is_file():
        target.unlink()
        report.done.append(_("removed {path}").format(path=target))
    else:
        report.done.append(_("{path} did not exist").format(path=target))
    if _forget_default():
        report.done.append(
            _("removed the default {mime_type} association from mimeapps.list").format(
                mime_type=MIME_TYPE
            )
        )
    if shutil.which("update-desktop-database"):
        _run(["update-desktop-database", str(target.parent)])
    return report
