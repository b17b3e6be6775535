"""Counted nouns in messages: "1 minute", "2 minutes", "1,000 environments".

One helper for every message that puts a number before a noun, so that no message says
"1 minutes" or hedges with an "s" in brackets. Kept free of third-party imports: the agent's
fast commands use it.
"""

from __future__ import annotations


def noun(number: int, singular: str, plural: str | None = None) -> str:
    """The form of the noun that goes with ``number``: ``noun(1, "key")`` is "key",
    ``noun(2, "key")`` "keys". ``plural`` defaults to ``singular`` + "s"."""
    return singular if number == 1 else (plural or f"{singular}s")


def counted(number: int, singular: str, plural: str | None = None) -> str:
    """``number`` and the noun in the form that goes with it, thousands separated by
    commas: ``counted(1, "minute")`` is "1 minute", ``counted(1000, "entry", "entries")``
    is "1,000 entries"."""
    return f"{number:,} {noun(number, singular, plural)}"
