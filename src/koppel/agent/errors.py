"""The exceptions the agent raises; each carries the exit code and a message that says what to do.

This module stays free of httpx and pydantic so that every command can import it cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from koppel.agent.exit_codes import ExitCode
from koppel.i18n import gettext as _
from koppel.i18n import ngettext

if TYPE_CHECKING:
    from koppel.protocol.settings_file import SkippedEnvironment

# Server error codes (values of koppel.protocol.errors.ErrorCode) grouped by exit code.
# Plain strings: importing ErrorCode would pull in pydantic for every command.
_EXIT_BY_CODE: dict[str, ExitCode] = {
    "token_revoked": ExitCode.TOKEN_REVOKED,
    "token_invalid": ExitCode.TOKEN_REVOKED,
    "token_missing": ExitCode.TOKEN_REVOKED,
    "update_mismatch": ExitCode.UPDATE_MISMATCH,
    "update_unsupported": ExitCode.UPDATE_MISMATCH,
    "invalid_credentials": ExitCode.REFUSED,
    "account_disabled": ExitCode.REFUSED,
    "account_locked": ExitCode.REFUSED,
    "too_many_attempts": ExitCode.REFUSED,
    "second_factor_required": ExitCode.REFUSED,
    "unknown_environment": ExitCode.REFUSED,
    "not_a_member": ExitCode.REFUSED,
    "not_authorized": ExitCode.REFUSED,
    "connector_blocked": ExitCode.REFUSED,
    "main_site_missing": ExitCode.REFUSED,
    "api_url_missing": ExitCode.REFUSED,
    "not_a_firm": ExitCode.REFUSED,
    "token_wrong_environment": ExitCode.REFUSED,
    "installation_unavailable": ExitCode.REFUSED,
    "not_editable": ExitCode.REFUSED,
    "version_conflict": ExitCode.REFUSED,
    "file_not_ready": ExitCode.REFUSED,
    "not_found": ExitCode.REFUSED,
    "enrollment_unknown": ExitCode.INVALID_SETTINGS,
    "enrollment_used": ExitCode.INVALID_SETTINGS,
    "enrollment_expired": ExitCode.INVALID_SETTINGS,
    "settings_tampered": ExitCode.INVALID_SETTINGS,
    "settings_outdated": ExitCode.INVALID_SETTINGS,
    "extension_not_allowed": ExitCode.FILE_REFUSED,
    "no_destinations": ExitCode.REFUSED,
    "no_item_types": ExitCode.REFUSED,
}

TOKEN_CODES = frozenset({"token_revoked", "token_invalid", "token_missing"})


def exit_code_for(code: str) -> ExitCode:
    """The exit code for a server error code; ERROR for codes without a specific one."""
    return _EXIT_BY_CODE.get(code, ExitCode.ERROR)


class AgentError(Exception):
    """A failure the CLI reports as one sentence on stderr and a distinct exit code."""

    exit_code: ExitCode = ExitCode.ERROR
    code: str = "error"

    def __init__(self, message: str, exit_code: ExitCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code

    def as_json(self) -> dict[str, Any]:
        """The error as the machine-readable object `--json` prints."""
        return {"code": self.code, "message": self.message, "exit_code": int(self.exit_code)}


@dataclass(frozen=True)
class ErrorItem:
    """One environment's part of a refusal that concerns several (ErrorBody.details)."""

    code: str
    message: str
    environment: str | None = None


class ApiError(AgentError):
    """The server refused a request with an ErrorBody."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        environment: str | None = None,
        details: list[ErrorItem] | None = None,
        status: int = 0,
    ) -> None:
        super().__init__(message, exit_code_for(code))
        self.code = code
        self.environment = environment
        self.details: list[ErrorItem] = details or []
        self.status = status

    def as_json(self) -> dict[str, Any]:
        """The error with the server's code, environment and per-environment details."""
        data = super().as_json()
        data["environment"] = self.environment
        data["status"] = self.status
        data["details"] = [
            {"code": d.code, "message": d.message, "environment": d.environment}
            for d in self.details
        ]
        return data


class ServerUnreachable(AgentError):
    """The server could not be reached (DNS, refused connection, TLS, timeout)."""

    exit_code = ExitCode.UNREACHABLE
    code = "unreachable"

    def __init__(self, url: str, reason: str, proxy: str | None = None) -> None:
        if proxy:  # the proxy may be what fails: it is named first
            message = _(
                "Cannot reach the Koppel server at {url} {proxy} ({reason}). Check that "
                "proxy setting with your IT department; if the proxy works, the address "
                "recorded for the environment may be wrong: ask your administrator to run "
                "`koppel-admin check`."
            ).format(url=url, proxy=proxy, reason=reason)
        else:
            message = _(
                "Cannot reach the Koppel server at {url} ({reason}). Check this computer's "
                "network connection; if it works, the address recorded for the environment "
                "may be wrong: ask your administrator to run `koppel-admin check`."
            ).format(url=url, reason=reason)
        super().__init__(message)
        self.url = url
        self.reason = reason
        self.proxy = proxy

    def as_json(self) -> dict[str, Any]:
        """The error with the server address and the reason."""
        data = super().as_json()
        data["server"] = self.url
        data["reason"] = self.reason
        data["proxy"] = self.proxy
        return data


class NotLinked(AgentError):
    """The environment named on the command line is not linked on this workstation."""

    exit_code = ExitCode.NOT_LINKED
    code = "not_linked"

    def __init__(self, environment: str) -> None:
        super().__init__(
            _(
                "{environment} is not linked on this workstation. See `koppel envs` for the "
                "linked environments, or link it with `koppel link FILE`."
            ).format(environment=environment)
        )
        self.environment = environment


class InvalidSettings(AgentError):
    """A settings file that cannot be used (unreadable, damaged, wrong format)."""

    exit_code = ExitCode.INVALID_SETTINGS
    code = "invalid_settings"


class BundleEmpty(AgentError):
    """A firm's bundle without any client: the server left every one out, for the
    reasons in ``skipped``. Exit 7 (refused) when the server has just answered so, 8
    (unusable settings file) when it is a saved file; nothing is saved or linked."""

    code = "bundle_empty"

    def __init__(
        self, source: str, skipped: list[SkippedEnvironment], outcome: str, exit_code: ExitCode
    ) -> None:
        from koppel.agent.skipped import report

        message = _("{source} holds no client environment to link; {outcome}").format(
            source=source, outcome=outcome
        )
        if skipped:
            message += "\n" + report(skipped)
        else:  # a server that did not say why
            message += " " + _("Ask your administrator which client environments you may link.")
        super().__init__(message, exit_code)
        self.skipped = skipped

    def as_json(self) -> dict[str, Any]:
        """The error with every client left out (``code``, ``name``, ``reason``, ``message``)."""
        from koppel.agent.skipped import as_json

        data = super().as_json()
        data["skipped"] = as_json(self.skipped)
        return data


class SettingsOutdated(InvalidSettings):
    """Settings files saved before their environments were converted: save them again."""

    code = "settings_outdated"


class UpdateConflict(AgentError):
    """Linking would mix updates (the same-update rule), refused before any server call."""

    exit_code = ExitCode.UPDATE_MISMATCH
    code = "update_mismatch"


class CannotSave(AgentError):
    """A received file (My files, an attachment) could not be written on this workstation."""

    exit_code = ExitCode.CANNOT_SAVE
    code = "cannot_save"

    def __init__(self, name: str, folder: object, cause: OSError) -> None:
        self.name = name
        self.reason = local_problem(cause)
        super().__init__(
            _(
                "Could not save {name} in {folder}: {reason}. Make sure it is a folder you "
                "may write to, with free space, then try again."
            ).format(name=name, folder=folder, reason=self.reason)
        )


def local_problem(cause: OSError) -> str:
    """An OSError of a local file operation as a short, plain phrase."""
    import errno

    where = f" ({cause.filename})" if cause.filename else ""
    if isinstance(cause, (FileExistsError, NotADirectoryError)):
        return _("something that is not a folder is in the way") + where
    if isinstance(cause, PermissionError):
        return _("permission denied") + where
    if cause.errno == errno.ENOSPC:
        return _("the disk is full")
    if cause.errno == errno.ENAMETOOLONG:
        return _("the file system refuses the name or the path as too long") + where
    return f"{cause.strerror or cause}{where}"


class StateError(AgentError):
    """The local state cannot be read or written."""

    code = "state_error"


class SendingInterrupted(KeyboardInterrupt):
    """Ctrl+C while a submission's files were being sent: what was sent is kept and the
    submission stays queued; ``message`` says how far it got and how to go on."""

    def __init__(self, sent: int, total: int) -> None:
        self.message = ngettext(
            "Interrupted: {sent} of {total} file is on the server and the submission is "
            "queued; `koppel queue send` sends the rest.",
            "Interrupted: {sent} of {total} files are on the server and the submission is "
            "queued; `koppel queue send` sends the rest.",
            total,
        ).format(sent=sent, total=total)
        super().__init__(self.message)
