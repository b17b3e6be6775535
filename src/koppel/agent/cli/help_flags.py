"""Flags in ``koppel --help`` are shown without a value.

Typer (0.29) prints a type beside every option in its Rich help, flags included, so that
``--json`` reads ``--json <bool>`` as if it took a value (``--json true``), and so does
``--help``. A flag takes none: its type column stays empty; options that take a value
keep theirs. ``koppel-admin`` uses Typer's plain help, which shows flags right already.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperOption

_typed = TyperOption.display_type_rich


def _display_type(option: TyperOption, ctx: Any) -> str | None:
    """The type column of an option in Rich help: nothing for a flag."""
    return None if option.is_flag else _typed(option, ctx)


def install() -> None:
    """Show flags without a type in every Rich help of this process (idempotent)."""
    setattr(TyperOption, "display_type_rich", _display_type)  # noqa: B010
