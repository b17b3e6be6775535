"""A wrong command line, said plainly in the user's language: never a traceback, always
exit code 2 (``ExitCode.USAGE``).

Typer words a bad value in pydantic's terms ("Input should be a valid integer, unable to
parse string as an integer") and names a parameter by its Python name. ``koppel`` runs
its application without Typer's own error handling and says instead what it expected
("give a whole number from 1 to 200"), with the value that was typed, in one line, then
where the help is. Error texts that are already ours (a refused ``--transfers``, a path
that does not exist) are kept.
"""

from __future__ import annotations

import re
import sys
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from koppel.i18n import gettext as _

_NO_SUCH_COMMAND = re.compile(r"No such command '(?P<name>.*)'\.")
_EXTRA = re.compile(r"Got unexpected extra argument(?:\(s\)|s)? \((?P<arguments>.*)\)")
_REQUIRES = re.compile(r"Option '(?P<option>.*)' requires an argument\.")


def explain(error: Any) -> str:
    """One sentence for a Click usage error: what was wrong and what is expected."""
    kind = type(error).__name__
    param = getattr(error, "param", None)
    if kind == "NoSuchOption":
        text = _("There is no option {option}.").format(option=error.option_name)
        if getattr(error, "possibilities", None):
            text += " " + _("Did you mean {options}?").format(
                options=", ".join(sorted(error.possibilities))
            )
        return text
    if kind == "MissingParameter" and param is not None:
        name = _name(param)
        if param.param_type_name == "argument":
            return _("{name} is missing: give it after the command.").format(name=name)
        return _("The option {name} is required.").format(name=name)
    if kind == "BadParameter" and param is not None:
        return _bad_value(error, param)
    message = str(getattr(error, "message", error))
    if match := _NO_SUCH_COMMAND.fullmatch(message):
        return _("There is no command {name}.").format(name=repr(match["name"]))
    if match := _EXTRA.fullmatch(message):
        return _("Too many arguments: {arguments}.").format(arguments=match["arguments"])
    if match := _REQUIRES.fullmatch(message):
        return _("The option {option} needs a value.").format(option=match["option"])
    return message


def show(error: Any, *, json_output: bool = False) -> int:
    """Say ``error`` on stderr with where the help is (and, for ``--json``, as the JSON
    error every command gives, code ``usage``); the exit code (2)."""
    from koppel.agent.exit_codes import ExitCode
    from koppel.agent.output import error as say_error
    from koppel.agent.output import print_json

    code = int(getattr(error, "exit_code", ExitCode.USAGE) or ExitCode.USAGE)
    sentence = explain(error)
    if json_output:
        print_json({"error": {"code": "usage", "message": sentence, "exit_code": code}})
    say_error(sentence)
    ctx = getattr(error, "ctx", None)
    path = ctx.command_path if ctx is not None else "koppel"
    sys.stderr.write(_("See '{command} --help' for what it takes.").format(command=path) + "\n")
    return code


def _name(param: Any) -> str:
    """How the user wrote (or would write) the parameter: ``--limit``, ``ITEM``."""
    opts = [o for o in getattr(param, "opts", []) if o.startswith("--")] or param.opts
    if param.param_type_name == "argument":
        return (param.metavar or param.name or "").upper()
    return str(opts[0]) if opts else str(param.name)


def _typed(error: Any) -> object:
    """The value that was typed, when Typer's conversion kept it (pydantic's error)."""
    cause = error.__cause__
    errors = getattr(cause, "errors", None)
    if callable(errors):
        try:
            return errors()[0].get("input")
        except (IndexError, TypeError, AttributeError):
            return None
    return None


def _bad_value(error: Any, param: Any) -> str:
    name = _name(param)
    value = _typed(error)
    # Typer's conversion (pydantic) words it "Input should be ..."; other texts are ours.
    theirs = value is not None or str(error.message).startswith("Input should")
    expected = _expected(param) if theirs else None
    if expected is None:
        # Our own refusal (a callback's) or Typer's about a path: already a sentence.
        return _("Invalid value for {name}: {problem}").format(name=name, problem=error.message)
    if value is None:
        return _("Invalid value for {name}: give {expected}.").format(name=name, expected=expected)
    return _("{value} is not a valid value for {name}: give {expected}.").format(
        value=repr(str(value)), name=name, expected=expected
    )


def _expected(param: Any) -> str | None:
    """What a valid value looks like, for the types our commands take."""
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None:
        return None
    annotation = descriptor.annotation
    if get_origin(annotation) is list:
        (annotation,) = get_args(annotation)
    low, high = getattr(param, "min", None), getattr(param, "max", None)
    if annotation is int:
        if low is not None and high is not None:
            return _("a whole number from {low} to {high}").format(low=low, high=high)
        if low is not None:
            return _("a whole number of at least {low}").format(low=low)
        return _("a whole number")
    if annotation is float:
        return _("a number, e.g. 2.5")
    if annotation is datetime:
        return _("a date written YYYY-MM-DD, e.g. 2026-01-31")
    choices = _choices(annotation)
    if choices:
        return _("one of: {choices}").format(choices=", ".join(choices))
    if isinstance(annotation, type) and issubclass(annotation, Path):
        return None
    return None


def _choices(annotation: Any) -> list[str]:
    if get_origin(annotation) is Literal:
        return [str(choice) for choice in get_args(annotation)]
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return [str(member.value) for member in annotation]
    return []
