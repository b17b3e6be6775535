"""``koppel settings download`` and ``koppel installation download``: what the portal offers.

"Save settings" gives a settings file (or a firm's bundle) to link with; "Save
installation" gives the agent wheel of the environment's update. The user approves each
in the browser (``device_flow``), so the agent never sees the password; scripts may give
a login and password instead (``KOPPEL_PASSWORD`` or ``--password-stdin``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from koppel.agent.api import AgentClient
from koppel.agent.api.credentials import Credential
from koppel.agent.errors import AgentError, BundleEmpty, InvalidSettings
from koppel.agent.exit_codes import ExitCode
from koppel.agent.local.atomic import atomic_write_bytes, atomic_writer
from koppel.i18n import gettext as _

if TYPE_CHECKING:
    from koppel.protocol.settings_file import SkippedEnvironment

PASSWORD_ENV = "KOPPEL_PASSWORD"


def script_password(from_stdin: bool) -> str | None:
    """A script's password: one line of standard input (``--password-stdin``), else
    ``KOPPEL_PASSWORD``; None when neither is given (then the user approves in the
    browser)."""
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise AgentError(
                _("--password-stdin was given but standard input is empty."), ExitCode.USAGE
            )
        return line
    return os.environ.get(PASSWORD_ENV) or None


def credential_for(
    client: AgentClient,
    scope: str,
    login: str | None,
    password: str | None,
    *,
    workstation: str,
    say: Callable[[str], None],
    open_browser: bool,
) -> Credential:
    """Basic for scripts (login and password given), else an approval in the browser."""
    if password is not None:
        if not login:
            raise AgentError(
                _(
                    "A password was given without --login; give both, or neither to approve "
                    "in the browser."
                ),
                ExitCode.USAGE,
            )
        return Credential(login=login, password=password)
    from koppel.agent.approval import approve_in_browser

    token = approve_in_browser(client, scope, workstation, say=say, open_browser=open_browser)
    return Credential(access_token=token)


def settings_target(output: Path | None, code: str, bundle: bool) -> Path:
    """Where the settings go: ``-o`` (a file, or a folder for the default name)."""
    name = f"{code}-clients.koppel" if bundle else f"{code}.koppel"
    if output is None:
        return Path.cwd() / name
    if output.is_dir():
        return output / name
    return output


@dataclass(frozen=True)
class SavedSettings:
    """What ``download_settings`` wrote: the file, how many environments it links, and
    the clients a bundle left out (each with the server's reason)."""

    file: Path
    environments: int
    skipped: list[SkippedEnvironment]


def download_settings(
    server: str,
    code: str,
    login: str | None,
    password: str | None,
    *,
    bundle: bool,
    output: Path | None,
    workstation: str,
    say: Callable[[str], None],
    open_browser: bool = True,
) -> SavedSettings:
    """Save settings (or the firm's bundle); a bundle without any client is BundleEmpty
    (nothing written), with the reason for each client."""
    from koppel.protocol.device import BUNDLE, SETTINGS, scope_for

    with AgentClient(server) as client:
        credential = credential_for(
            client, scope_for(BUNDLE if bundle else SETTINGS, code), login, password,
            workstation=workstation, say=say, open_browser=open_browser,
        )  # fmt: skip
        raw = client.settings(code, credential, bundle=bundle)
    # Check it is a readable settings document before writing it where the user looks.
    from koppel.protocol.settings_file import EmptyBundleError, SettingsFileError, read_settings

    try:
        contents = read_settings(raw, _("the server's answer"))
    except EmptyBundleError as exc:
        raise BundleEmpty(
            _("The bundle of {code}").format(code=code),
            exc.skipped,
            _("nothing was saved."),
            ExitCode.REFUSED,
        ) from exc
    except SettingsFileError as exc:
        raise InvalidSettings(str(exc)) from exc
    target = settings_target(output, code, bundle)
    try:
        atomic_write_bytes(target, raw, mode=0o600)
    except OSError as exc:
        raise AgentError(
            _("Cannot write {path}: {reason}.").format(path=target, reason=exc.strerror)
        ) from exc
    return SavedSettings(target, len(contents.documents), contents.skipped)


def download_installation(
    server: str,
    code: str,
    login: str | None,
    password: str | None,
    folder: Path | None,
    *,
    workstation: str,
    say: Callable[[str], None],
    open_browser: bool = True,
) -> Path:
    """Save installation: the agent wheel of the environment's update, into ``folder``."""
    from koppel.protocol.device import INSTALLATION, scope_for

    target_dir = folder or Path.cwd()
    target_dir.mkdir(parents=True, exist_ok=True)
    with AgentClient(server) as client:
        credential = credential_for(
            client, scope_for(INSTALLATION, code), login, password, workstation=workstation,
            say=say, open_browser=open_browser,
        )  # fmt: skip
        with client.installation(code, credential) as content:
            if not content.file_name:
                raise AgentError(
                    _(
                        "The server sent the installation without a file name; ask the "
                        "administrator to check the server."
                    )
                )
            target = target_dir / content.file_name
            with atomic_writer(target, mode=0o644) as handle:
                for chunk in content.chunks():
                    handle.write(chunk)
        return target
