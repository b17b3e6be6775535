"""Updates: the release line of an environment's data model and API (e.g. ``2026.2``).

The agent's own update is the first two parts of its version. Agent and environment
must be on the same update; a server release hosts its current update and the previous.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

from koppel._version import __version__
from koppel.i18n import gettext as _

_UPDATE = re.compile(r"^(\d{4})\.(\d{1,2})$")

# The request header in which the agent states its update on every call.
UPDATE_HEADER = "Koppel-Update"


@total_ordering
@dataclass(frozen=True)
class Update:
    """An update such as ``2026.2``: a year and a release number within it."""

    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Update:
        """Parse ``YYYY.N``; raise ValueError with the expected form otherwise."""
        match = _UPDATE.match(text.strip())
        if not match:
            raise ValueError(
                _("{text!r} is not an update; expected the form YYYY.N, e.g. 2026.2").format(
                    text=text
                )
            )
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of_version(cls, version: str) -> Update:
        """The update a release version belongs to: ``2026.2.7`` -> ``2026.2``."""
        parts = version.split(".")
        return cls.parse(".".join(parts[:2]))

    def previous(self) -> Update:
        """The update released before this one (numbers restart at 1 every year)."""
        if self.number > 1:
            return Update(self.year, self.number - 1)
        return Update(self.year - 1, 2)

    def __str__(self) -> str:
        return f"{self.year}.{self.number}"

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Update):
            return NotImplemented
        return (self.year, self.number) < (other.year, other.number)


AGENT_UPDATE = Update.of_version(__version__)


def supported_updates(current: Update = AGENT_UPDATE) -> tuple[Update, Update]:
    """The updates one server release hosts: its own and the one before."""
    return (current, current.previous())
