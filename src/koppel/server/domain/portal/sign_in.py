"""Checking a password, the one policy of every door that takes one: the portal's
sign-in, the device approval page and the agent API's HTTP Basic (for scripts).

A login is locked for ``policy.lockout`` after ``policy.sign_in_attempts`` failures
within that time; an address that fails ``policy.address_attempts`` times over any
logins must wait as well, so guessing across many logins is slow too. Failures are
stored, so restarting the server does not reset them. A wrong second-factor code counts
as a failure too. A door that cannot ask for the second factor (HTTP Basic) refuses an
account that has one: ``password_only``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from koppel.i18n import gettext as _
from koppel.i18n import ngettext
from koppel.protocol.errors import ErrorCode
from koppel.server.domain import lookups, names
from koppel.server.domain.audit import record
from koppel.server.domain.errors import DomainError
from koppel.server.domain.links import enrollment
from koppel.server.domain.model import Account, Environment
from koppel.server.domain.policy import Policy
from koppel.server.domain.portal.model import WebRepository
from koppel.server.domain.repository import Repository


@dataclass(frozen=True)
class SignedIn:
    """A successful password check: who, on which portal, and whether TOTP must follow."""

    account: Account
    portal: Environment
    needs_second_factor: bool


def portal_environment(repo: Repository, code: str) -> Environment:
    """The environment whose portal this is; ``no_portal`` when it has none."""
    env = lookups.environment(repo, code)
    if not env.has_portal:
        message = _("{code} has no portal of its own; its users sign in on their firm's portal.")
        if env.main_site_url:
            message = _(
                "{code} has no portal of its own; its users sign in on their firm's portal. "
                "Its main site is {site}."
            )
        raise DomainError(
            ErrorCode.NO_PORTAL,
            message.format(code=env.code, site=env.main_site_url),
            environment=env.code,
        )
    return env


def _minutes_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds() / 60))


def check_throttle(store: WebRepository, policy: Policy, login: str, address: str) -> None:
    """Refuse while the login or the address is locked (before a password or a code)."""
    now = policy.clock()
    since = now - policy.lockout
    by_login = store.failures(login=login, since=since)
    if len(by_login) >= policy.sign_in_attempts:
        until = by_login[-policy.sign_in_attempts] + policy.lockout
        minutes = _minutes_until(until, now)
        raise DomainError(
            ErrorCode.ACCOUNT_LOCKED,
            ngettext(
                "Too many failed sign-ins for {login}: it is locked for {count} more minute. "
                "Wait, or ask your administrator to unlock it (koppel-admin accounts unlock "
                "{login}).",
                "Too many failed sign-ins for {login}: it is locked for {count} more minutes. "
                "Wait, or ask your administrator to unlock it (koppel-admin accounts unlock "
                "{login}).",
                minutes,
            ).format(login=login, count=minutes),
        )
    check_address(store, policy, address)


def check_address(store: WebRepository, policy: Policy, address: str) -> None:
    """Refuse while the address is throttled (too many failures over any logins)."""
    now = policy.clock()
    since = now - policy.lockout
    by_address = store.failures(address=address, since=since)
    if len(by_address) >= policy.address_attempts:
        until = by_address[-policy.address_attempts] + policy.lockout
        minutes = _minutes_until(until, now)
        raise DomainError(
            ErrorCode.TOO_MANY_ATTEMPTS,
            ngettext(
                "Too many failed sign-ins from this address: try again in {count} minute.",
                "Too many failed sign-ins from this address: try again in {count} minutes.",
                minutes,
            ).format(count=minutes),
        )


def sign_in(
    repo: Repository,
    store: WebRepository,
    policy: Policy,
    portal_code: str,
    login: str,
    password: str,
    address: str,
) -> SignedIn:
    """Check a sign-in to the portal of ``portal_code``.

    Refusals: ``account_locked``/``too_many_attempts`` (before the password is even
    checked), ``invalid_credentials`` (recorded as a failure), ``account_disabled``,
    ``not_a_member`` and ``no_portal_access`` (naming the step that grants it).
    The caller's transaction rolls back on a refusal, so it records an
    ``invalid_credentials`` failure with ``record_failure`` in a transaction of its own.
    """
    portal = portal_environment(repo, portal_code)
    account = password_account(repo, store, policy, login, password, address)
    member = repo.membership(portal.id, account.id)
    if member is None:
        raise DomainError(
            ErrorCode.NOT_A_MEMBER,
            _(
                "{login} is not a user of {code}, so this portal is not yours. Ask the "
                "administrator of {code} to add you (koppel-admin users add {code} {login})."
            ).format(login=account.login, code=portal.code),
            environment=portal.code,
        )
    if not member.portal_access:
        raise DomainError(
            ErrorCode.NO_PORTAL_ACCESS,
            _(
                '{login} has no portal (InSite) access in {code} yet: the step "Users have '
                'portal access" is missing. Ask the administrator of {code} to grant it '
                "(koppel-admin portal grant {code} {login})."
            ).format(login=account.login, code=portal.code),
            environment=portal.code,
        )
    needs_second_factor = has_second_factor(store, account)
    if not needs_second_factor:
        # With a second factor, failures are forgotten only once it is given
        # (second_factor.verify): a right password alone must not reset wrong codes.
        store.clear_failures(account.login)
    record(repo, policy, account.login, "portal.sign_in", portal.code, address=address)
    return SignedIn(account, portal, needs_second_factor)


def password_account(
    repo: Repository,
    store: WebRepository,
    policy: Policy,
    login: str,
    password: str,
    address: str,
) -> Account:
    """The account whose password this is, under the lockout: ``account_locked`` or
    ``too_many_attempts`` before the password is even checked, then
    ``invalid_credentials`` (the caller records it with ``record_failure`` in a
    transaction of its own, as the refusal rolls its own back) or ``account_disabled``.
    Failures are not cleared here: that waits for the second factor, when there is one."""
    normalised = _normalised(login)
    check_throttle(store, policy, normalised, address)
    return enrollment.authenticate(repo, normalised, password)


def has_second_factor(store: WebRepository, account: Account) -> bool:
    """Whether signing in as this account takes a second factor after the password."""
    factor = store.second_factor(account.id)
    return factor is not None and factor.confirmed_at is not None


def password_only(
    repo: Repository,
    store: WebRepository,
    policy: Policy,
    login: str,
    password: str,
    address: str,
) -> Account:
    """A door that takes a password alone (the agent API's HTTP Basic, for scripts): the
    same lockout and recorded failures as the portal, and ``second_factor_required`` for
    an account with a second factor, which approves its workstation in the browser."""
    account = password_account(repo, store, policy, login, password, address)
    if has_second_factor(store, account):
        raise DomainError(
            ErrorCode.SECOND_FACTOR_REQUIRED,
            _(
                "{login} uses two-step verification, so a password alone is not enough here. "
                "Run the command without KOPPEL_PASSWORD or --password-stdin: Koppel then "
                "shows a code to approve in your browser, where you sign in with your second "
                "factor."
            ).format(login=account.login),
        )
    store.clear_failures(account.login)
    return account


def _normalised(login: str) -> str:
    try:
        return names.login(login)
    except DomainError:
        return login.strip().lower()[:64]


def record_failure(store: WebRepository, policy: Policy, login: str, address: str) -> None:
    """Count a wrong password against the login and the address."""
    store.add_failure(_normalised(login), address[:64], policy.clock())


def unlock(store: WebRepository, login: str) -> int:
    """Forget a login's failed sign-ins (the administrator's unlock); how many there were."""
    count = len(store.failures(login=login, since=datetime(1970, 1, 1, tzinfo=UTC)))
    store.clear_failures(login)
    return count
