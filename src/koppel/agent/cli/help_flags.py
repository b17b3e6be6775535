"""Flags in ``koppel --help`` are shown without a value, and values by what they are in
the user's language.

Typer (0.29) prints a type beside every option in its Rich help, flags included, so that
``--json`` reads ``--json <bool>`` as if it took a value (``--json true``), and so does
``--help``. A flag takes none: its type column stays empty; options that take a value
show what to give, in words rather than Python's type names (``<text>`` for ``<str>``,
``<date>`` for ``<datetime>``), translated. ``koppel-admin`` uses Typer's plain help,
which shows flags right already.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument, TyperOption

from koppel.i18n import N_
from koppel.i18n import gettext as _

_typed = TyperOption.display_type_rich
_typed_argument = TyperArgument.display_type_rich

# Python's type names as Typer shows them, and the words shown instead.
_WORDS = {
    "<str>": N_("<text>"),
    "<list[str]>": N_("<text>"),
    "<path>": N_("<path>"),
    "<list[Path]>": N_("<path>"),
    "<int>": N_("<number>"),
    "<int range>": N_("<number>"),
    "<float>": N_("<number>"),
    "<datetime>": N_("<date>"),
}


def _display_type(option: TyperOption, ctx: Any) -> str | None:
    """The type column of an option in Rich help: nothing for a flag."""
    if option.is_flag:
        return None
    return _in_words(_typed(option, ctx))


def _argument_type(argument: TyperArgument, ctx: Any) -> str | None:
    """The type column of an argument in Rich help."""
    return _in_words(_typed_argument(argument, ctx))


def _in_words(shown: str | None) -> str | None:
    if isinstance(shown, str):
        for name, words in _WORDS.items():
            if shown == name or shown.startswith(name + " "):
                return _(words) + shown[len(name) :]
    return shown


def install() -> None:
    """Show flags without a type, and types in words, in every Rich help of this process
    (idempotent)."""
    setattr(TyperOption, "display_type_rich", _display_type)  # noqa: B010
    setattr(TyperArgument, "display_type_rich", _argument_type)  # noqa: B010
