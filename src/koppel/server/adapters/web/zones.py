"""Time zones as people name them: "Brussel (België)", not ``Europe/Brussels``.

The names come from Babel's CLDR data in the page's language; the IANA id stays the value
that forms send and the database keeps."""

from __future__ import annotations

import unicodedata
from functools import cache

from koppel.i18n import current_language
from koppel.server.domain.portal import profile

_LOCALES = {"nl": "nl_NL", "fr": "fr_FR", "en": "en_GB"}


def zone_name(zone: str) -> str:
    """The zone's city and country in the current language ("Bruxelles (Belgique)")."""
    return _zone_name(zone, _LOCALES.get(current_language(), "en_GB"))


@cache
def _zone_name(zone: str, locale: str) -> str:
    # Babel is imported here, not at start-up (issue 13: the agent's start-up cost).
    from babel import Locale
    from babel.core import get_global
    from babel.dates import get_timezone_location

    if zone in ("UTC", "Etc/UTC"):
        return "UTC"
    try:
        city = get_timezone_location(zone, locale=locale, return_city=True)
        territory = get_global("zone_territories").get(zone)
        country = Locale.parse(locale).territories.get(territory) if territory else None
    except (LookupError, ValueError):
        return zone
    return f"{city} ({country})" if country and country != city else city


def zone_choices() -> list[tuple[str, str]]:
    """The profile page's time zones as (IANA id, name): the firms' own first, then the
    others in the order of their names in the current language."""
    first = [(z, zone_name(z)) for z in profile.FIRST_ZONES]
    rest = [(z, zone_name(z)) for z in profile.time_zones()[len(profile.FIRST_ZONES) :]]
    rest.sort(key=lambda pair: (pair[0] != "UTC", _sort_key(pair[1])))
    return first + rest


def _sort_key(name: str) -> str:
    # "Écosse" sorts with the E's, as a reader looks for it.
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()
