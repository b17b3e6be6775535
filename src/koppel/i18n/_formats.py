"""Dates, times and numbers as the user's language writes them, in the user's time zone."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from koppel.i18n._language import current_language

DEFAULT_TIME_ZONE = "Europe/Amsterdam"  # the firms' own, until a user or environment says
# The zone of this computer (the agent shows times as the workstation's clock does).
LOCAL = "local"

_zone: ContextVar[str | None] = ContextVar("koppel_time_zone", default=None)


def valid_time_zone(name: str | None) -> bool:
    """Whether ``name`` is an IANA time zone this machine knows (``Europe/Brussels``)."""
    if not name:
        return False
    try:
        _zone_info(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


@cache
def _zone_info(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def current_time_zone() -> str:
    """The time zone of the current context (``use_time_zone``), else the default."""
    return _zone.get() or DEFAULT_TIME_ZONE


@contextmanager
def use_time_zone(name: str | None) -> Iterator[str]:
    """Show times in ``name`` in this context (ignored when it is no known zone)."""
    chosen = name if name and valid_time_zone(name) else current_time_zone()
    token = _zone.set(chosen)
    try:
        yield chosen
    finally:
        _zone.reset(token)


def local_time(moment: datetime, time_zone: str | None = None) -> datetime:
    """``moment`` (naive means UTC) in ``time_zone`` (``LOCAL``: this computer's zone) or
    the current one."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if time_zone == LOCAL:
        return aware.astimezone()  # the system's zone (TZ, /etc/localtime)
    return aware.astimezone(_zone_info(time_zone or current_time_zone()))


def format_when(moment: datetime | None, time_zone: str | None = None) -> str:
    """A date and time as the language writes them, in the user's zone ("—" for none).

    ``3 dec 2026 18:05`` in Dutch, ``3 déc. 2026 18:05`` in French and ``3 Dec 2026
    18:05`` in English: the locale's medium date and short time (Babel).
    """
    if moment is None:
        return "—"
    from babel.dates import format_date as babel_date
    from babel.dates import format_time

    local = local_time(moment, time_zone)
    locale = _locale()
    day = babel_date(local, "medium", locale=locale)
    return f"{day} {format_time(local, 'short', locale=locale)}"


def format_date(moment: datetime | None, time_zone: str | None = None) -> str:
    """A date alone, as the language writes it ("—" for none)."""
    if moment is None:
        return "—"
    from babel.dates import format_date as babel_date

    return babel_date(local_time(moment, time_zone), "medium", locale=_locale())


def format_number(value: float) -> str:
    """A number with the language's separators (1.234,5 in Dutch and French style)."""
    from babel.numbers import format_decimal

    return format_decimal(value, locale=_locale())


def _locale() -> str:
    return {"nl": "nl_NL", "fr": "fr_FR", "en": "en_GB"}.get(current_language(), "en_GB")
