"""``koppel settings download`` and ``koppel installation download``: what the portal offers.

"Save settings" gives a settings file (or a firm's bundle) to link with; "Save
installation" gives the agent wheel of the environment's update. Both use the user's
login and password (HTTP Basic).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from koppel.agent.atomic import atomic_write_bytes
from koppel.agent.client import AgentClient
from koppel.agent.errors import AgentError, InvalidSettings
from koppel.agent.exit_codes import ExitCode

PASSWORD_ENV = "KOPPEL_PASSWORD"


def password(login: str) -> str:
    """The password from ``KOPPEL_PASSWORD``, or asked without echo on a terminal."""
    value = os.environ.get(PASSWORD_ENV)
    if value:
        return value
    if not sys.stdin.isatty():
        raise AgentError(
            f"A password is needed for {login} and there is no terminal to ask it on: set "
            f"{PASSWORD_ENV}.",
            ExitCode.USAGE,
        )
    import getpass

    return getpass.getpass(f"Password for {login}: ")


def settings_target(output: Path | None, code: str, bundle: bool) -> Path:
    """Where the settings go: ``-o`` (a file, or a folder for the default name)."""
    name = f"{code}-clients.koppel" if bundle else f"{code}.koppel"
    if output is None:
        return Path.cwd() / name
    if output.is_dir():
        return output / name
    return output


def download_settings(
    server: str, code: str, login: str, *, bundle: bool, output: Path | None
) -> tuple[Path, int]:
    """Save settings (or the firm's bundle); the file written and how many environments."""
    secret = password(login)
    with AgentClient(server) as client:
        raw = client.settings(code, login, secret, bundle=bundle)
    # Check it is a readable settings document before writing it where the user looks.
    from koppel.protocol.settings_file import SettingsFileError, read_documents

    try:
        documents = read_documents(raw, "the server's answer")
    except SettingsFileError as exc:
        raise InvalidSettings(str(exc)) from exc
    target = settings_target(output, code, bundle)
    try:
        atomic_write_bytes(target, raw, mode=0o600)
    except OSError as exc:
        raise AgentError(f"Cannot write {target}: {exc.strerror}.") from exc
    return target, len(documents)


def download_installation(server: str, code: str, login: str, folder: Path | None) -> Path:
    """Save installation: the agent wheel of the environment's update, into ``folder``."""
    secret = password(login)
    target_dir = folder or Path.cwd()
    target_dir.mkdir(parents=True, exist_ok=True)
    with AgentClient(server) as client:
        return client.installation(code, login, secret, target_dir)
