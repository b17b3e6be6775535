"""The user's own profile: e-mail address, language and time zone (the display name is
the administrator's to set)."""

from __future__ import annotations

from functools import cache
from zoneinfo import available_timezones

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


@cache
def time_zones() -> tuple[str, ...]:
    """The IANA zones offered: ``FIRST_ZONES``, then every other Area/Location zone."""
    others = sorted(
        z
        for z in available_timezones()
        if "/" in z
        and not z.startswith(("Etc/", "SystemV/", "posix/", "right/"))
        and z not in FIRST_ZONES
    )
    return FIRST_ZONES + tuple(others)


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
