"""The exit codes as ``koppel --help`` lists them, in the user's language (the numbers
are ``koppel.agent.exit_codes.ExitCode``; docs/exit-codes.md has every command's)."""

from __future__ import annotations

from koppel.i18n import gettext as _


def exit_codes_epilog() -> str:
    """The list of exit codes under ``koppel --help`` (Markdown)."""
    lines = [
        _("0 ok, 1 error, 2 usage (a wrong command line or option value)"),
        _("3 `doctor` found problems"),
        _("4 server unreachable"),
        _("5 token revoked, replaced or expired (link again)"),
        _("6 update mismatch (install the agent of the environment's update)"),
        _(
            "7 refused by the server (authorization, blocked connector, disabled account, "
            "empty dossier)"
        ),
        _("8 invalid settings file (unreadable, altered, already used or expired)"),
        _("9 environment not linked on this workstation"),
        _(
            "10 file refused before sending (unreadable, empty, too large, unsafe name, "
            "type not accepted)"
        ),
        _("11 submission queued: the server is unreachable; `koppel queue send` sends it later"),
        _("12 a received file could not be saved on this workstation (folder, disk space, name)"),
        _("13 `update check`: a newer release of this agent exists (`koppel update install`)"),
        _("14 `agent run`: the background agent of this user is already running"),
        _("15 `agent status` / `agent stop`: no background agent is running"),
        _("130 interrupted (Ctrl+C, or end of input at a question)"),
    ]
    heading = _("Exit codes:")
    return f"**{heading}**\n\n" + "\n".join(f"* {line}" for line in lines) + "\n"
