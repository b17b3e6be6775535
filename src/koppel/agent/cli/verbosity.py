"""``koppel -q`` and ``koppel -v``: how much a command says besides its result.

Quiet (``-q``/``--quiet``) keeps only errors on stderr: the notes, hints and progress bars
are left out; results on stdout (a path, a table, ``--json``) stay, since a script reads
them. Verbose (``-v``/``--verbose``) also says what is done: the agent's data folder and
language, every request to a server (its address, the answer) and how long the command
took. The level is known before any command module runs (``cli.main`` reads it from the
command line), so the agent's own modules, which write their notes through
``koppel.agent.output.note``, are quiet too.
"""

from __future__ import annotations

import os
import sys
import time

from koppel.agent.output import note as _note

QUIET, NORMAL, VERBOSE = -1, 0, 1
_level = [NORMAL]
_started = [time.monotonic()]

# The flags, wherever they stand before the command's own arguments. ``-q`` after a
# command is that command's (``koppel items -q TEXT``); only the long forms are global there.
_LEADING = {"-q": QUIET, "--quiet": QUIET, "-v": VERBOSE, "--verbose": VERBOSE}
_ANYWHERE = {"--quiet": QUIET, "--verbose": VERBOSE}


def level() -> int:
    """The chosen level: ``QUIET``, ``NORMAL`` or ``VERBOSE``."""
    return _level[0]


def is_quiet() -> bool:
    """Whether only errors are to be said (``-q``)."""
    return _level[0] == QUIET


def is_verbose() -> bool:
    """Whether what is done is to be said too (``-v``)."""
    return _level[0] == VERBOSE


def set_level(chosen: int) -> None:
    """Say this much from now on in this process (idempotent)."""
    _level[0] = chosen
    from koppel.agent import output

    if chosen == QUIET:
        # Every module looks ``output.note`` up when it writes, so all notes go quiet;
        # the transfer bars (submit's too) follow KOPPEL_PROGRESS.
        output.note = _silent
        os.environ[output.PROGRESS_ENV] = "never"
    elif output.note is _silent:
        output.note = _note
    if chosen == VERBOSE:
        _log_requests()


def take_from(arguments: list[str]) -> list[str]:
    """The arguments without the global ``-q``/``-v`` flags, whose level is set: the short
    forms before the command, the long ones anywhere before ``--``."""
    rest: list[str] = []
    chosen: int | None = None
    leading = True
    for index, argument in enumerate(arguments):
        if argument == "--":
            rest.extend(arguments[index:])
            break
        table = _LEADING if leading else _ANYWHERE
        if argument in table:
            chosen = table[argument]
            continue
        if not argument.startswith("-"):
            leading = False
        rest.append(argument)
    if chosen is not None:
        set_level(chosen)
    return rest


def say(message: str) -> None:
    """A note on stderr, unless quiet."""
    if not is_quiet():
        sys.stderr.write(message + "\n")


def detail(message: str) -> None:
    """A line about what is done, only when verbose."""
    if is_verbose():
        sys.stderr.write(message + "\n")


def elapsed() -> float:
    """Seconds since the command started."""
    return time.monotonic() - _started[0]


def _silent(message: str) -> None:
    """A note that quiet leaves out."""


def _log_requests() -> None:
    """Every HTTP request on stderr: httpx logs each one (address, status) at INFO."""
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    for name in ("httpx",):
        logger = logging.getLogger(name)
        if not any(getattr(h, "koppel_verbose", False) for h in logger.handlers):
            handler.koppel_verbose = True  # type: ignore[attr-defined]
            logger.addHandler(handler)
        logger.setLevel(logging.INFO)
