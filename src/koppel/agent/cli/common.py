"""What every ``koppel`` command shares: its options and how a refusal reaches the user
(one module, so that the command modules of ``cli/`` import it and never each
other)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Annotated, Any, Protocol

import typer

from koppel.agent import output
from koppel.agent.errors import AgentError, SendingInterrupted
from koppel.agent.exit_codes import ExitCode
from koppel.agent.output import error, print_json
from koppel.agent.transfers import MAX_TRANSFERS, transfers_problem
from koppel.i18n import gettext as _

# Help texts are translated when the command modules are imported: the process's language
# (KOPPEL_LANG, else the system's) is known by then and does not change.

JsonOption = Annotated[
    bool, typer.Option("--json", help=_("Print machine-readable JSON on stdout."))
]
# --env where one environment must be named.
EnvOption = Annotated[str, typer.Option("--env", help=_("The environment code, e.g. F10001."))]
# --env where the only linked environment is taken when it is left out.
ChosenEnvOption = Annotated[
    str | None,
    typer.Option("--env", help=_("Environment code; needed when several are linked.")),
]

F = Callable[..., object]


def described(text: str, *examples: str) -> str:
    """A command's help: its text, then its examples (real command lines), each on a
    line of its own under "Example:" in the user's language."""
    heading = _("Example:") if len(examples) == 1 else _("Examples:")
    lines = "\n".join(f"    {example}" for example in examples)
    return f"{text}\n\n{heading}\n\n{lines}"


def usage(text: str, *examples: str) -> Callable[[F], F]:
    """Give a command its help (Typer shows a command's docstring): ``text``, already
    translated, and its examples."""

    def give(command: F) -> F:
        command.__doc__ = described(text, *examples)
        return command

    return give


def _transfers(value: int) -> int:
    problem = transfers_problem(value)
    if problem:
        raise typer.BadParameter(problem)
    return value


# --transfers where a submission's files are sent (koppel submit, koppel queue send).
TransfersOption = Annotated[
    int,
    typer.Option(
        "--transfers",
        metavar="N",
        callback=_transfers,
        help=_(
            "How many files are sent at once (1 to {most}). 1 sends them one after "
            "another, e.g. on a slow line."
        ).format(most=MAX_TRANSFERS),
    ),
]


def note(message: str) -> None:
    """A message for the user on stderr; nothing with ``-q`` (see ``cli/verbosity``)."""
    output.note(message)


@contextmanager
def reporting(json_output: bool) -> Iterator[None]:
    """Turn an AgentError into one sentence on stderr (and JSON on stdout) and its exit code."""
    try:
        yield
    except AgentError as exc:
        if json_output:
            print_json({"error": exc.as_json()})
        error(exc.message)
        raise typer.Exit(int(exc.exit_code)) from None
    except typer.Abort:
        # Ctrl+C or end of input at a prompt: it comes before anything is done.
        error(_("Interrupted; nothing was changed."))
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    except SendingInterrupted as exc:
        error(exc.message)
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    except KeyboardInterrupt:
        error(_("Interrupted."))
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None


def desktop_app() -> ModuleType:
    """The desktop agent's start-up module (``koppel tray``, ``koppel submit --gui``); one
    line saying how to install it and exit 2 when the ``desktop`` extra is missing."""
    try:
        from koppel.agent.desktop import app
    except ImportError as exc:
        if (exc.name or "").split(".")[0] not in ("PySide6", "shiboken6"):
            raise
        error(
            _(
                "The desktop agent is not installed with this Koppel; install it with "
                "pip install 'koppel[desktop]' (or pipx inject koppel PySide6-Essentials)."
            )
        )
        raise typer.Exit(int(ExitCode.USAGE)) from None
    return app


class StepsReport(Protocol):
    """What a desktop set-up command did (``koppel handler``, ``koppel integrate``)."""

    done: list[str]
    missing: list[str]

    def as_json(self) -> dict[str, Any]: ...


def print_steps(report: StepsReport, json_output: bool) -> None:
    """The report's JSON (with ``--json``), then each step done and each one missing."""
    if json_output:
        print_json(report.as_json())
    for done in report.done:
        note(_("Done: {step}.").format(step=done))
    for missing in report.missing:
        note(_("Missing: {step}.").format(step=missing))
