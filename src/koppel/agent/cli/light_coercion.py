"""Command-line values are converted without pydantic.

Typer (0.29) converts every parameter value, even ``--help``'s default ``None``, through a
pydantic ``TypeAdapter`` it builds on first use: importing pydantic and building the
adapters costs ``koppel envs`` more than everything else it does. Our commands only take
plain values (``bool``, ``str``, ``int``, ``float``, ``Path``, ``X | None``, ``list[X]``,
enum and ``Literal`` choices, ``YYYY-MM-DD`` dates), which this module converts directly.

Only values that convert cleanly take this path. Anything else (a bad number, an unknown
choice, an out-of-range ``--limit``, a type we do not know) is handed to Typer's own
conversion, so the result and the error message are Typer's, word for word. If a Typer
release no longer has the private parts patched here, ``install`` does nothing and Typer
works as it ships.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, get_args, get_origin

#: One converter: the converted value, or ``_TYPERS_OWN`` to let Typer convert it.
_Convert = Callable[[Any, Any], Any]
_TYPERS_OWN = object()

# pydantic accepts more spellings (" 1", "1_000", "1e3"); those go to Typer's conversion.
_PLAIN_INT = re.compile(r"-?[0-9]+")
_PLAIN_FLOAT = re.compile(r"-?[0-9]+(\.[0-9]+)?")

_PLAIN_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

_installed = False


def install() -> None:
    """Convert plain parameter values without pydantic in this process (idempotent; does
    nothing when Typer's private parts it needs are missing)."""
    global _installed
    if _installed:
        return
    try:
        from typer import _coercion, _param_types, core
    except ImportError:
        return
    parameter_class = getattr(core, "_TyperParameter", None)
    runtime_param = getattr(_coercion, "RuntimeParam", None)
    needed = (
        getattr(parameter_class, "get_runtime_param", None),
        runtime_param,
        getattr(_coercion, "build_runtime_param", None),
        getattr(_param_types, "coerce_cli_path", None),
        getattr(_param_types, "coerce_cli_choice", None),
        getattr(_param_types, "choice_coercion_annotation", None),
        getattr(_param_types, "routes_to_path", None),
    )
    if any(part is None for part in needed):
        return
    assert parameter_class is not None and runtime_param is not None
    original = parameter_class.get_runtime_param
    light_param = _light_param_class(runtime_param)

    def get_runtime_param(parameter: Any) -> Any:
        if getattr(parameter, "_runtime_param", None) is None:
            descriptor = parameter.type_descriptor
            convert = _converter(descriptor)
            if convert is not None:
                parameter._runtime_param = light_param(
                    parameter_info=descriptor.parameter_info,
                    annotation=descriptor.annotation,
                    convert=convert,
                    descriptor=descriptor,
                )
        return original(parameter)

    setattr(parameter_class, "get_runtime_param", get_runtime_param)  # noqa: B010
    _installed = True


def _light_param_class(runtime_param: type[Any]) -> type[Any]:
    """A Typer ``RuntimeParam`` (its ``coerce`` handles ``None`` and multiple values)
    whose conversion is ours, falling back to Typer's for what ours leaves."""

    @dataclass(frozen=True)
    class LightRuntimeParam(runtime_param):  # type: ignore[misc]
        convert: _Convert
        descriptor: Any

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            converted = self.convert(value, (param, ctx))
            if converted is not _TYPERS_OWN:
                return converted
            from typer._coercion import build_runtime_param

            typers = build_runtime_param(self.descriptor)
            return typers._coerce_value(value, param=param, ctx=ctx)

    return LightRuntimeParam


def _converter(descriptor: Any) -> _Convert | None:
    """Our converter for a parameter, or None when Typer's own should do it all (files:
    Typer opens them without pydantic)."""
    if descriptor.file_annotation is not None:
        return None
    annotation = descriptor.annotation
    info = descriptor.parameter_info
    if get_origin(annotation) is list:
        (item_type,) = get_args(annotation)
        item = _leaf(item_type, info)
        return _list_of(item) if item is not None else _typers
    # A type we do not convert is still ours while its value is None (left out), which
    # Typer's ``coerce`` answers before converting: its adapter is built for a real value.
    return _leaf(annotation, info) or _typers


def _typers(value: Any, where: Any) -> Any:
    return _TYPERS_OWN


def _list_of(item: _Convert) -> _Convert:
    def convert(value: Any, where: Any) -> Any:
        values = value if isinstance(value, (list, tuple)) else [value]
        converted = [item(one, where) for one in values]
        return _TYPERS_OWN if _TYPERS_OWN in converted else converted

    return convert


def _leaf(annotation: Any, info: Any) -> _Convert | None:
    """The converter of one plain value, as Typer's ``build_leaf_adapter`` would."""
    from typer._param_types import choice_coercion_annotation, routes_to_path

    if info.parser is not None:
        return None
    choice = choice_coercion_annotation(annotation, info)
    if choice is not None:
        return _choice(choice[0], info.case_sensitive)
    if annotation is bool:
        return _bool
    if annotation is int or annotation is float:
        if info.clamp:
            return None
        if info.min is not None or info.max is not None:
            return _ranged(_number(annotation), info.min, info.max)
        return _number(annotation)
    if annotation is str:
        return _str
    if annotation is datetime and info.formats is None:
        return _date
    if routes_to_path(annotation, info):
        return _path(annotation, info)
    return None


def _bool(value: Any, where: Any) -> Any:
    return value if isinstance(value, bool) else _TYPERS_OWN


def _str(value: Any, where: Any) -> Any:
    # Typer's string conversion decodes bytes first; leave those to it.
    return _TYPERS_OWN if value is None or isinstance(value, bytes) else str(value)


def _date(value: Any, where: Any) -> Any:
    """``YYYY-MM-DD`` as midnight, as pydantic reads it; any other spelling is Typer's."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _PLAIN_DATE.fullmatch(value):
        return _TYPERS_OWN
    try:
        return datetime(int(value[:4]), int(value[5:7]), int(value[8:]))
    except ValueError:
        return _TYPERS_OWN


def _number(kind: type[Any]) -> _Convert:
    pattern = _PLAIN_INT if kind is int else _PLAIN_FLOAT

    def convert(value: Any, where: Any) -> Any:
        if type(value) is kind:
            return value
        if isinstance(value, str) and pattern.fullmatch(value):
            return kind(value)
        return _TYPERS_OWN

    return convert


def _ranged(number: _Convert, low: Any, high: Any) -> _Convert:
    """A number within bounds; one outside is Typer's to refuse, in its words."""

    def convert(value: Any, where: Any) -> Any:
        converted = number(value, where)
        if converted is _TYPERS_OWN:
            return converted
        outside = (low is not None and converted < low) or (high is not None and converted > high)
        return _TYPERS_OWN if outside else converted

    return convert


def _choice(choices: tuple[Any, ...], case_sensitive: bool) -> _Convert:
    from typer._param_types import coerce_cli_choice

    def convert(value: Any, where: Any) -> Any:
        _param, ctx = where
        try:
            return coerce_cli_choice(value, choices=choices, case_sensitive=case_sensitive, ctx=ctx)
        except ValueError:
            return _TYPERS_OWN

    return convert


def _path(annotation: Any, info: Any) -> _Convert:
    from typer._click.exceptions import BadParameter
    from typer._param_types import coerce_cli_path

    path_type = info.path_type
    if path_type is None and isinstance(annotation, type) and issubclass(annotation, Path):
        path_type = annotation

    def convert(value: Any, where: Any) -> Any:
        param, ctx = where
        if isinstance(path_type, type) and issubclass(path_type, Path):
            if not isinstance(value, (str, Path)) or value == "":
                return _TYPERS_OWN
            value = path_type(value)
        # Typer's own checks (exists, file_okay, …) without its pydantic; a refusal is
        # left to Typer so that its message names the path exactly as it was typed.
        try:
            return coerce_cli_path(value, info, path_type=path_type, param=param, ctx=ctx)
        except BadParameter:
            return _TYPERS_OWN

    return convert
