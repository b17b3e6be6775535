"""The update check: is a newer release of this agent's update offered by a linked server,
and installing it into the agent's own environment (``koppel update check|install``,
and ``check_daily`` for the background agent).

Each linked server is asked once, with the token of one of its environments on this
agent's update (``GET /environments/{env}/release``): the environment decides the update,
so a release of another update is never offered; moving to another update stays what
``update_mismatch`` and "Save installation" say. Installing changes only the agent's
program: links, tokens and the queue live in the data folder and are kept as they are.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from koppel.agent.api import AgentClient, server_base
from koppel.agent.errors import AgentError, ApiError
from koppel.agent.exit_codes import ExitCode
from koppel.agent.local import notify, update_notices
from koppel.agent.local import state as state_mod
from koppel.agent.local.atomic import atomic_writer
from koppel.agent.local.state import LinkedEnv
from koppel.agent.local.token_store import TokenVault
from koppel.agent.local.verified_writer import VerifiedWriter
from koppel.agent.version import AGENT_UPDATE_TEXT, VERSION
from koppel.i18n import gettext as _

Log = Callable[[str], None]

# The background agent asks at most this often unless asked to check now.
CHECK_INTERVAL = timedelta(days=1)
# Environments of one server tried in turn when one is refused (a revoked token): the
# release does not depend on which environment of the update asks.
_TRIES_PER_SERVER = 3
_INSTALL_TIMEOUT_SECONDS = 600
_NO_RELEASE = "this server offers no agent release"


@dataclass(frozen=True)
class Release:
    """A newer agent release a linked server offers."""

    server: str
    environment: str  # the environment whose token fetches it
    update: str
    version: str
    sha256: str
    size: int
    download: str

    def as_json(self) -> dict[str, Any]:
        """The release as ``--json`` prints it."""
        return {
            "server": self.server,
            "environment": self.environment,
            "update": self.update,
            "version": self.version,
            "sha256": self.sha256,
            "size": self.size,
        }


@dataclass
class Check:
    """What the servers said: the newest release offered, and who could not answer."""

    installed: str
    newest: Release | None = None  # the newest release offered, even when not newer
    asked: list[str] = field(default_factory=list)  # servers that answered
    problems: dict[str, str] = field(default_factory=dict)  # server -> what went wrong
    no_release: list[str] = field(default_factory=list)  # answered, but offer no release

    @property
    def available(self) -> Release | None:
        """The release to install: newer than this agent and of its update."""
        if self.newest is None or not is_newer(self.newest.version, self.installed):
            return None
        return self.newest

    def as_json(self) -> dict[str, Any]:
        """The check as ``koppel update check --json`` prints it."""
        available = self.available
        return {
            "installed": self.installed,
            "update": AGENT_UPDATE_TEXT,
            "update_available": available is not None,
            "available": available.as_json() if available else None,
            "servers": [
                *({"server": s, "ok": True} for s in self.asked if s not in self.no_release),
                *({"server": s, "ok": True, "problem": _NO_RELEASE} for s in self.no_release),
                *({"server": s, "ok": False, "problem": p} for s, p in self.problems.items()),
            ],
        }


def version_key(version: str) -> tuple[int, ...] | None:
    """``2026.2.10`` -> (2026, 2, 10); None for a version this agent cannot compare."""
    if not re.fullmatch(r"\d+(\.\d+)*", version.strip()):
        return None
    return tuple(int(part) for part in version.strip().split("."))


def is_newer(version: str, installed: str) -> bool:
    """Whether ``version`` is a later release than ``installed`` of the same update."""
    new, old = version_key(version), version_key(installed)
    if new is None or old is None or new[:2] != old[:2]:
        return False  # another update is never an upgrade this agent makes
    return new > old


def check() -> Check:
    """Ask each linked server once for the newest release of this agent's update."""
    loaded = state_mod.read()
    state = loaded.state
    result = Check(installed=VERSION)
    candidates = [e for e in state.environments.values() if e.update == AGENT_UPDATE_TEXT]
    if not candidates:
        return result
    tokens = TokenVault(state).get_many(candidates)
    by_server: dict[str, list[LinkedEnv]] = {}
    for env in candidates:
        if tokens.get(env.code):
            by_server.setdefault(server_base(env.api_url), []).append(env)
    for server, envs in by_server.items():
        release, problem = _ask(server, envs, tokens)
        if problem == _NO_RELEASE:
            result.asked.append(server)
            result.no_release.append(server)
            continue
        if release is None:
            result.problems[server] = problem
            continue
        result.asked.append(server)
        if release.update != AGENT_UPDATE_TEXT:
            continue  # defensive: a server never offers another update here
        newest = result.newest
        if newest is None or (version_key(release.version) or ()) > (
            version_key(newest.version) or ()
        ):
            result.newest = release
    return result


def _ask(
    server: str, envs: list[LinkedEnv], tokens: dict[str, str | None]
) -> tuple[Release | None, str]:
    problem = "no environment of this agent's update could ask"
    try:
        with AgentClient(server) as client:
            for env in envs[:_TRIES_PER_SERVER]:
                try:
                    answer = client.release(env.code, tokens[env.code] or "")
                except ApiError as exc:
                    if exc.code == "not_found":
                        # The server answered: it offers no release (or predates them).
                        return None, _NO_RELEASE
                    problem = f"{env.code}: {exc.message}"
                    continue
                return (
                    Release(
                        server=server,
                        environment=env.code,
                        update=answer.update,
                        version=answer.version,
                        sha256=answer.sha256.lower(),
                        size=answer.size,
                        download=answer.download,
                    ),
                    "",
                )
    except AgentError as exc:  # unreachable, or an answer this agent cannot read
        problem = exc.message
    return None, problem


def summary(result: Check) -> str:
    """The check in one sentence for the user."""
    available = result.available
    if available is not None:
        return _(
            "Koppel {version} is available (you have {installed}): run `koppel update install`."
        ).format(version=available.version, installed=result.installed)
    if not result.asked:
        if not result.problems:
            return _(
                "Koppel {installed} cannot check for a newer release: no environment of its "
                "update is linked. Link one with `koppel link FILE`."
            ).format(installed=result.installed)
        return _("Koppel {installed}: no server could be asked for a newer release.").format(
            installed=result.installed
        )
    if set(result.asked) <= set(result.no_release):
        return _("Koppel {installed}: the linked servers offer no release to compare with.").format(
            installed=result.installed
        )
    return _("Koppel {installed} is up to date.").format(installed=result.installed)


# -- the background agent ----------------------------------------------------------------------


def check_daily(log: Log, *, force: bool = False, now: datetime | None = None) -> Check | None:
    """The background agent's check, on start and every hour: it asks the servers at most
    once a day (unless ``force``, "Check now") and notifies once per release version.

    Returns the check, or None when none was due. A check no server answered is not
    counted, so the next hour tries again."""
    moment = now or datetime.now(UTC)
    notices = update_notices.load()
    last = notices.last_check
    if not force and last is not None and moment - last < CHECK_INTERVAL:
        return None
    result = check()
    for server, problem in result.problems.items():
        log(f"update check: {server}: {problem}")
    if not result.asked:
        return result
    notices = update_notices.load()  # again: a manual check may have written it meanwhile
    notices.last_check = moment
    available = result.available
    if available is not None and available.version not in notices.notified:
        notify.problem(
            _("Koppel {version} is available").format(version=available.version),
            _(
                "You have {installed}. Install it with `koppel update install`; your linked "
                "environments are kept."
            ).format(installed=result.installed),
            log,
        )
        notices.notified.append(available.version)
    elif available is None:
        log(f"update check: {summary(result)}")
    update_notices.save(notices)
    return result


# -- installing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Installed:
    """The outcome of ``koppel update install``."""

    previous: str
    version: str | None  # None: nothing was installed (already up to date)
    installer: str = ""  # "pip" or "pipx"

    def as_json(self) -> dict[str, Any]:
        """The outcome as ``--json`` prints it."""
        return {
            "previous": self.previous,
            "installed": self.version,
            "changed": self.version is not None,
            "installer": self.installer or None,
        }


def install(say: Log) -> Installed:
    """Install the newest release of this agent's update, if newer, into this agent's
    own environment; the links in the data folder are not touched."""
    result = check()
    available = result.available
    if available is None:
        if not result.asked:
            raise AgentError(summary(result), ExitCode.UNREACHABLE)
        return Installed(previous=VERSION, version=None)
    if not in_pipx_venv() and not installable_here():
        raise AgentError(
            _(
                "Koppel {version} is available, but this agent is installed for every user of "
                "this computer and you may not change it: ask your administrator to update it "
                "(pip install -U koppel in {prefix}). Your links are unchanged."
            ).format(version=available.version, prefix=sys.prefix),
            ExitCode.ERROR,
        )
    say(
        _("Downloading Koppel {version} from {server}…").format(
            version=available.version, server=available.server
        )
    )
    with tempfile.TemporaryDirectory(prefix="koppel-update-") as folder:
        wheel = _download(available, Path(folder))
        installer, command = installer_command(wheel)
        say(_("Installing it with {installer}…").format(installer=installer))
        _run_installer(command)
    found = _installed_version()
    if found != available.version:
        raise AgentError(
            _(
                "The installer finished, but this agent reports version {found} instead of "
                "{version}. Run `koppel update install` again, or ask your administrator."
            ).format(found=found or _("unknown"), version=available.version),
            ExitCode.ERROR,
        )
    return Installed(previous=VERSION, version=found, installer=installer)


def _download(release: Release, folder: Path) -> Path:
    state = state_mod.read().state
    env = state.environments.get(release.environment)
    token = TokenVault(state).get(env) if env is not None else None
    if env is None or not token:
        raise AgentError(
            _("{environment} is no longer linked here; run `koppel update install` again.").format(
                environment=release.environment
            ),
            ExitCode.NOT_LINKED,
        )
    # pip installs a wheel only under its standard name.
    target = folder / f"koppel-{release.version}-py3-none-any.whl"
    with (
        AgentClient(release.server) as client,
        client.release_wheel(release.download, token) as got,
        atomic_writer(target) as handle,
        VerifiedWriter(handle) as out,
    ):
        for chunk in got.chunks():
            out.write(chunk)
        digest, size = out.hexdigest(), out.size
    announced = got.sha256 or release.sha256
    if digest != release.sha256 or announced != release.sha256 or size != release.size:
        with contextlib.suppress(OSError):
            target.unlink()
        raise AgentError(
            _(
                "The downloaded Koppel {version} does not match what the server announced "
                "(SHA-256 or size differ); nothing was installed. Try again later; if it keeps "
                "failing, tell the server's administrator."
            ).format(version=release.version),
            ExitCode.ERROR,
        )
    return target


def installable_here(site_packages: str | None = None) -> bool:
    """Whether this user may install into the agent's environment: not so for a
    machine-wide install (terminal servers), which its administrator updates."""
    import sysconfig

    folder = site_packages or sysconfig.get_paths()["purelib"]
    return os.access(folder, os.W_OK)


def in_pipx_venv(prefix: str | None = None) -> bool:
    """Whether this agent runs from a pipx-managed environment (``…/pipx/venvs/koppel``)."""
    where = (prefix or sys.prefix).replace("\\", "/").lower().rstrip("/") + "/"
    return "/pipx/venvs/" in where


def installer_command(wheel: Path) -> tuple[str, list[str]]:
    """The installer that installed this agent, and its command for ``wheel``: pipx for a
    pipx environment (so that pipx keeps managing it), else pip of this interpreter."""
    pipx = shutil.which("pipx")
    # Without pipx on the PATH (an autostart entry's short PATH), the venv's own pip
    # (pipx shares one with every venv it makes) installs it just the same.
    if in_pipx_venv() and pipx:
        return "pipx", [pipx, "install", "--force", str(wheel)]
    return "pip", [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--quiet",
        str(wheel),
    ]


def _run_installer(command: list[str]) -> None:
    # Windows: no console window flashes up when the tray starts the installer.
    flags = getattr(subprocess, "CREATE_NO_WINDOW", 0) if os.name == "nt" else 0
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=_INSTALL_TIMEOUT_SECONDS,
            creationflags=flags,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise AgentError(
            _("The installer could not run ({reason}); this agent is unchanged.").format(
                reason=exc
            ),
            ExitCode.ERROR,
        ) from exc
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise AgentError(
            _(
                "Installing the new release failed; this agent is unchanged. The installer "
                "said: {output}"
            ).format(output=" / ".join(said)),
            ExitCode.ERROR,
        )


def _installed_version() -> str | None:
    # A new interpreter: this process still has the old release loaded.
    done = subprocess.run(
        [sys.executable, "-c", "from koppel._version import __version__; print(__version__)"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stdout.strip() or None if done.returncode == 0 else None
