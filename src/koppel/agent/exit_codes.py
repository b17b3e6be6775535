"""The process exit codes of the ``koppel`` CLI: one per kind of outcome, so scripts can branch."""

from __future__ import annotations

from enum import IntEnum

from koppel.i18n import N_
from koppel.i18n import gettext as _


class ExitCode(IntEnum):
    """Distinct exit codes; documented in ``koppel --help``."""

    OK = 0
    ERROR = 1  # anything else: a bug, a local file problem, an unexpected server answer
    USAGE = 2  # wrong command line (Typer/Click use 2 for this)
    PROBLEMS = 3  # `koppel doctor` found at least one problem
    UNREACHABLE = 4  # the server could not be reached
    TOKEN_REVOKED = 5  # the environment's token was revoked, replaced, expired or lost
    UPDATE_MISMATCH = 6  # environment and agent are not on the same update
    REFUSED = 7  # the server refused: not authorized, connector blocked, account disabled, ...
    INVALID_SETTINGS = 8  # settings file unreadable, altered, already used or expired
    NOT_LINKED = 9  # the environment named is not linked on this workstation
    # a file to submit is unreadable, empty, too large, badly named or of a type not accepted
    FILE_REFUSED = 10
    QUEUED = 11  # the server is unreachable: the submission is queued (`koppel queue send`)
    CANNOT_SAVE = 12  # a received file could not be saved here (folder, disk, file system)
    # `koppel update check`: a newer release of this agent's update is available (as
    # `dnf check-update` answers 100: a script branches on it without parsing text)
    UPDATE_AVAILABLE = 13
    AGENT_RUNNING = 14  # `koppel agent run`: this user's background agent is already running
    AGENT_NOT_RUNNING = 15  # `koppel agent status|stop`: no background agent is running
    INTERRUPTED = 130  # Ctrl+C (128 + SIGINT, as shells report it), or end of input at a prompt


# The exit codes as ``--help`` lists them; shown through :func:`epilog` (translated).
EPILOG = N_("""**Exit codes:**

* 0 ok, 1 error, 2 usage
* 3 `doctor` found problems
* 4 server unreachable
* 5 token revoked, replaced or expired (link again)
* 6 update mismatch (install the agent of the environment's update)
* 7 refused by the server (authorization, blocked connector, disabled account, empty dossier)
* 8 invalid settings file (unreadable, altered, already used or expired)
* 9 environment not linked on this workstation
* 10 file refused before sending (unreadable, empty, too large, unsafe name, type not accepted)
* 11 submission queued: the server is unreachable; `koppel queue send` sends it later
* 12 a received file could not be saved on this workstation (folder, disk space, name)
* 13 `update check`: a newer release of this agent is available (`koppel update install`)
* 14 `agent run`: the background agent of this user is already running
* 15 `agent status` / `agent stop`: no background agent is running
* 130 interrupted (Ctrl+C, or end of input at a question)
""")


def epilog() -> str:
    """The list of exit codes for ``--help``, in the user's language."""
    return _(EPILOG)
