"""Days as periods of time (UTC): what a "from" and a "to" date of a filter mean."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta


def start_of(day: date) -> datetime:
    """The first moment of ``day``."""
    return datetime.combine(day, time(), UTC)


def end_of(day: date) -> datetime | None:
    """The first moment after ``day`` (a "to" date includes its whole day); None after
    the calendar's last day, which no moment follows: then there is no upper bound."""
    if day == date.max:
        return None
    return start_of(day + timedelta(days=1))
