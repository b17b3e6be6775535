"""The user's own profile: e-mail address, language and time zone (the display name is
the administrator's to set)."""

from __future__ import annotations

from functools import cache

from koppel.i18n import LANGUAGES, valid_time_zone
from koppel.i18n import gettext as _
from koppel.protocol.errors import ErrorCode
from koppel.server.domain.audit import record
from koppel.server.domain.errors import DomainError
from koppel.server.domain.mail_address import optional_email
from koppel.server.domain.model import Account
from koppel.server.domain.policy import Policy
from koppel.server.domain.repository import Repository

# The zones of the firms Koppel is made for, offered first.
FIRST_ZONES = ("Europe/Amsterdam", "Europe/Brussels", "Europe/Paris")

# The zones offered after those: UTC, every zone of Europe, and the main cities of the
# other continents (France's overseas departments among them). Canonical IANA names only,
# none of the deprecated aliases (Europe/Kiev, Asia/Calcutta, US/Eastern...) a raw list
# of the machine's zones holds; a saved zone that is not here stays valid.
OFFERED_ZONES = (
    "UTC",
    # Europe
    "Europe/Andorra", "Europe/Astrakhan", "Europe/Athens", "Europe/Belgrade",
    "Europe/Berlin", "Europe/Bucharest", "Europe/Budapest", "Europe/Chisinau",
    "Europe/Copenhagen", "Europe/Dublin", "Europe/Gibraltar", "Europe/Helsinki",
    "Europe/Istanbul", "Europe/Kaliningrad", "Europe/Kirov", "Europe/Kyiv",
    "Europe/Lisbon", "Europe/Ljubljana", "Europe/London", "Europe/Luxembourg",
    "Europe/Madrid", "Europe/Malta", "Europe/Minsk", "Europe/Monaco", "Europe/Moscow",
    "Europe/Oslo", "Europe/Prague", "Europe/Riga", "Europe/Rome", "Europe/Samara",
    "Europe/Sarajevo", "Europe/Saratov", "Europe/Simferopol", "Europe/Skopje",
    "Europe/Sofia", "Europe/Stockholm", "Europe/Tallinn", "Europe/Tirane",
    "Europe/Ulyanovsk", "Europe/Vaduz", "Europe/Vienna", "Europe/Vilnius",
    "Europe/Volgograd", "Europe/Warsaw", "Europe/Zagreb", "Europe/Zurich",
    "Atlantic/Azores", "Atlantic/Canary", "Atlantic/Madeira", "Atlantic/Reykjavik",
    # Africa
    "Africa/Abidjan", "Africa/Algiers", "Africa/Cairo", "Africa/Casablanca",
    "Africa/Dakar", "Africa/Johannesburg", "Africa/Kinshasa", "Africa/Lagos",
    "Africa/Nairobi", "Africa/Tunis", "Indian/Mauritius", "Indian/Mayotte",
    "Indian/Reunion",
    # America
    "America/Anchorage", "America/Argentina/Buenos_Aires", "America/Aruba",
    "America/Bogota", "America/Cayenne", "America/Chicago", "America/Curacao",
    "America/Denver", "America/Guadeloupe", "America/Halifax", "America/Lima",
    "America/Los_Angeles", "America/Martinique", "America/Mexico_City",
    "America/New_York", "America/Paramaribo", "America/Santiago", "America/Sao_Paulo",
    "America/Toronto", "America/Vancouver", "Pacific/Honolulu",
    # Asia
    "Asia/Bangkok", "Asia/Dubai", "Asia/Hong_Kong", "Asia/Jakarta", "Asia/Jerusalem",
    "Asia/Karachi", "Asia/Kolkata", "Asia/Manila", "Asia/Riyadh", "Asia/Seoul",
    "Asia/Shanghai", "Asia/Singapore", "Asia/Tehran", "Asia/Tokyo",
    # Oceania
    "Australia/Adelaide", "Australia/Brisbane", "Australia/Perth", "Australia/Sydney",
    "Pacific/Auckland", "Pacific/Noumea", "Pacific/Tahiti",
)  # fmt: skip


@cache
def time_zones() -> tuple[str, ...]:
    """The IANA zones offered: ``FIRST_ZONES``, then ``OFFERED_ZONES`` (those this
    machine's time-zone data knows)."""
    return FIRST_ZONES + tuple(z for z in OFFERED_ZONES if valid_time_zone(z))


def _language(value: str) -> str | None:
    chosen = value.strip().lower()
    if not chosen:
        return None
    if chosen not in LANGUAGES:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            _("Choose Dutch, French, English or the language of your browser."),
        )
    return chosen


def _time_zone(value: str) -> str | None:
    chosen = value.strip()
    if not chosen:
        return None
    if not valid_time_zone(chosen):
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            _('"{zone}" is not a time zone; choose one from the list, such as '
              "Europe/Brussels.").format(zone=chosen[:64]),
        )  # fmt: skip
    return chosen


def update(
    repo: Repository,
    policy: Policy,
    account: Account,
    *,
    email: str | None,
    language: str,
    time_zone: str,
) -> list[str]:
    """Save the user's choices (each checked first: a refusal changes nothing); the names
    of the fields that changed (audited as ``account.profile``). An empty value is "no
    choice": no address, the browser's language, the environment's time zone."""
    wanted = {
        "email": optional_email(email),
        "language": _language(language),
        "time_zone": _time_zone(time_zone),
    }
    changed = [name for name, value in wanted.items() if getattr(account, name) != value]
    if not changed:
        return []
    for name in changed:
        setattr(account, name, wanted[name])
    repo.save_account(account)
    record(repo, policy, account.login, "account.profile", None, changed=changed)
    return changed
