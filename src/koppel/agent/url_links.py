"""``koppel://`` links: registering the agent as their handler (Linux: a .desktop file and
``xdg-mime``) and acting on one (``koppel open-link``). The link format is in
``koppel.protocol.links``; docs/koppel-links.md explains it and Windows and macOS.

A link can come from any web page, so ``open-link`` acts only on an environment that is
linked on this workstation *with the server the link names*; anything else is refused
before any request is made.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from koppel.agent.api import server_base
from koppel.agent.errors import AgentError, NotLinked
from koppel.agent.exit_codes import ExitCode
from koppel.protocol.links import SCHEME, EditLink, LinkError, parse_link

DESKTOP_FILE = "koppel-url.desktop"
MIME_TYPE = f"x-scheme-handler/{SCHEME}"
DOCS = "docs/koppel-links.md"


# --- the handler's registration (Linux) ---------------------------------------------------
def applications_dir() -> Path:
    """Where per-user .desktop files go: ``$XDG_DATA_HOME/applications``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local/share")
    return Path(base) / "applications"


def desktop_path() -> Path:
    """The handler's .desktop file."""
    return applications_dir() / DESKTOP_FILE


def koppel_executable() -> Path:
    """The absolute path of the running ``koppel`` executable (the desktop runs it)."""
    launched = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if launched is not None and launched.name.startswith("koppel") and launched.is_file():
        return launched.absolute()
    found = shutil.which("koppel")
    if found:
        return Path(found).absolute()
    raise AgentError(
        "Cannot find the koppel executable to register; run this command as `koppel handler "
        "install` from the installed agent."
    )


def _exec_argument(value: str) -> str:
    # Desktop Entry spec: quote arguments with reserved characters; inside quotes escape
    # " ` $ \ with a backslash; a literal % is %%. Then the string value escapes \ again.
    if value and not any(c in value for c in " \t\n\"'\\><~|&;$*?#()`%"):
        return value
    quoted = "".join("\\" + c if c in '"`$\\' else c for c in value).replace("%", "%%")
    return f'"{quoted}"'.replace("\\", "\\\\")


def desktop_entry(executable: Path) -> str:
    """The .desktop file that makes ``executable open-link URL`` handle koppel:// links."""
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Name=Koppel link handler\n"
        "Comment=Opens koppel:// links (Edit on my computer) with the Koppel agent\n"
        f"Exec={_exec_argument(str(executable))} open-link %u\n"
        "Terminal=false\n"
        "NoDisplay=true\n"
        f"MimeType={MIME_TYPE};\n"
    )


@dataclass
class HandlerReport:
    """What ``koppel handler install/status/uninstall`` did or found."""

    desktop_file: Path
    executable: str | None
    registered: bool
    default_handler: str | None = None
    done: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The report as ``--json`` prints it."""
        return {
            "desktop_file": str(self.desktop_file),
            "executable": self.executable,
            "registered": self.registered,
            "default_handler": self.default_handler,
            "done": self.done,
            "missing": self.missing,
        }


def _require_linux() -> None:
    if not sys.platform.startswith("linux"):
        raise AgentError(
            f"`koppel handler` registers the koppel:// handler on Linux. On Windows and macOS "
            f"register it as {DOCS} describes (it runs `koppel open-link URL`)."
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
    _require_linux()
    executable = koppel_executable()
    target = desktop_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(target.name + ".tmp")
    temporary.write_text(desktop_entry(executable), encoding="utf-8")
    os.replace(temporary, target)
    report = HandlerReport(target, str(executable), registered=False)
    report.done.append(f"wrote {target} (Exec={executable} open-link %u)")
    if shutil.which("update-desktop-database"):
        refreshed = _run(["update-desktop-database", str(target.parent)])
        if refreshed.returncode == 0:
            report.done.append(f"refreshed the desktop database of {target.parent}")
    if not shutil.which("xdg-mime"):
        report.missing.append(
            "xdg-mime is not installed (package xdg-utils), so the handler is not the default "
            f"for koppel:// links yet: install xdg-utils and run `koppel handler install` "
            f"again, or run `xdg-mime default {DESKTOP_FILE} {MIME_TYPE}`"
        )
        return report
    answer = _run(["xdg-mime", "default", DESKTOP_FILE, MIME_TYPE])
    if answer.returncode != 0:
        report.missing.append(
            f"`xdg-mime default {DESKTOP_FILE} {MIME_TYPE}` failed: "
            + (answer.stderr.strip() or f"exit code {answer.returncode}")
        )
        return report
    report.done.append(f"made {DESKTOP_FILE} the default for {MIME_TYPE} (xdg-mime)")
    report.default_handler = _default_handler()
    report.registered = True
    return report


def status() -> HandlerReport:
    """Whether the .desktop file exists, what it runs, and the desktop's default handler."""
    _require_linux()
    target = desktop_path()
    command = _exec_of(target) if target.is_file() else None
    report = HandlerReport(target, command, registered=False)
    if command is None:
        report.missing.append(f"{target} does not exist: run `koppel handler install`")
        return report
    executable = command.removesuffix(" open-link %u").strip('"')
    report.executable = executable
    if not Path(executable.replace("\\\\", "\\")).is_file():
        report.missing.append(
            f"{target} runs {executable}, which does not exist: run `koppel handler install`"
        )
    if not shutil.which("xdg-mime"):
        report.missing.append("xdg-mime is not installed, so the default handler is unknown")
    else:
        report.default_handler = _default_handler()
        if report.default_handler != DESKTOP_FILE:
            report.missing.append(
                f"the default handler of {MIME_TYPE} is {report.default_handler or 'not set'}, "
                "not Koppel: run `koppel handler install`"
            )
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
    _require_linux()
    target = desktop_path()
    report = HandlerReport(target, _exec_of(target), registered=False)
    if target.is_file():
        target.unlink()
        report.done.append(f"removed {target}")
    else:
        report.done.append(f"{target} did not exist")
    if _forget_default():
        report.done.append(f"removed the default {MIME_TYPE} association from mimeapps.list")
    if shutil.which("update-desktop-database"):
        _run(["update-desktop-database", str(target.parent)])
    return report


# --- acting on a link ---------------------------------------------------------------------
def linked_target(url: str) -> EditLink:
    """The edit link ``url`` asks for, if its environment is linked here with the server
    the link names. Malformed or unknown links are a usage error; others ``not_linked``."""
    try:
        wanted = parse_link(url)
    except LinkError as exc:
        raise AgentError(f"Not a Koppel link this agent can open: {exc}", ExitCode.USAGE) from exc
    from koppel.agent.environments import find

    try:
        _, env = find(wanted.environment)
    except NotLinked as exc:
        raise AgentError(
            f"The link is for environment {wanted.environment} on {wanted.server}, which is not "
            "linked on this workstation. Link it first (download its settings from the portal "
            "and run `koppel link FILE`); `koppel envs` lists the linked environments.",
            ExitCode.NOT_LINKED,
        ) from exc
    try:
        linked_server = server_base(env.api_url)
    except AgentError:
        linked_server = env.api_url
    if _same_server(linked_server, server_base(wanted.server)):
        return wanted
    raise AgentError(
        f"The link is for {wanted.environment} on {wanted.server}, but {env.code} is linked "
        f"to {linked_server} on this workstation; the link was not opened. Use the portal of "
        f"the server {env.code} is linked to, or link it again from {wanted.server}.",
        ExitCode.NOT_LINKED,
    )


def _same_server(linked: str, named: str) -> bool:
    from urllib.parse import urlsplit

    def key(url: str) -> tuple[str, str, int | None, str]:
        parts = urlsplit(url.rstrip("/"))
        default = {"http": 80, "https": 443}.get(parts.scheme.lower())
        return (
            parts.scheme.lower(),
            (parts.hostname or "").lower(),
            parts.port or default,
            parts.path.rstrip("/"),
        )

    try:
        return key(linked) == key(named)
    except ValueError:
        return False
