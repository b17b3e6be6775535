"""A forgotten password, reset by the user through a link sent by e-mail.

The forgot-password page gives the same answer whatever was asked (a login or address
that exists or not, an account without an address, a request over the limit), so that it
tells nobody which accounts exist; ``request`` says what really happened for the log.

A request is a row; the e-mail is sent by a job (``MAIL_JOB``), which makes the link's
secret and stores only its hash, so that neither the request's answer waits for the mail
server nor the database ever holds a usable link. The link works once, for
``LINK_LIFETIME``; a newer request, and a completed reset, make older links useless.
Requests are limited per account (``REQUEST_LIMIT`` in ``REQUEST_WINDOW``) and, far more
generously, per client address (``ADDRESS_LIMIT``: a whole office often reaches the
portal through one public address): one over a limit is recorded nowhere and sends
nothing.

A reset changes the password only: the second factor is still asked at the next sign-in,
and every session of the account ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from koppel.i18n import gettext as _
from koppel.protocol.errors import ErrorCode
from koppel.protocol.secrets import new_secret, split_secret
from koppel.server.domain import names
from koppel.server.domain.audit import record
from koppel.server.domain.errors import DomainError
from koppel.server.domain.hashing import hash_secret, secret_matches
from koppel.server.domain.jobs.model import JobRepository
from koppel.server.domain.mail_address import email_address
from koppel.server.domain.model import Account, Environment
from koppel.server.domain.passwords import check_rules, hash_password
from koppel.server.domain.policy import Policy
from koppel.server.domain.portal.model import WebRepository
from koppel.server.domain.repository import Repository

RESET_PREFIX = "kppr_"
LINK_LIFETIME = timedelta(minutes=30)
REQUEST_LIMIT = 3  # per account
ADDRESS_LIMIT = 30  # per client address: an office behind one address is many people
REQUEST_WINDOW = timedelta(minutes=15)
MAIL_JOB = "password-reset-mail"
# Requests older than this no longer count for anything (the limit, a link).
KEPT = timedelta(days=2)


@dataclass
class PasswordReset:
    """One request of the forgot-password page, and the link its e-mail carries."""

    portal_environment_id: int
    address: str
    language: str
    requested_at: datetime
    account_id: int | None = None  # None: the login or address named no account
    public_id: str | None = None  # set when the e-mail is sent
    secret_hash: str | None = None
    expires_at: datetime | None = None
    used_at: datetime | None = None
    superseded_at: datetime | None = None
    id: int = 0


class ResetRepository(Protocol):
    """Storage of password-reset requests, within one unit of work."""

    def add(self, reset: PasswordReset) -> PasswordReset:
        """Store a new request; it comes back with its id."""
        ...

    def get(self, reset_id: int) -> PasswordReset | None:
        """A request by id."""
        ...

    def by_public_id(self, public_id: str) -> PasswordReset | None:
        """The request whose link has this public id."""
        ...

    def save(self, reset: PasswordReset) -> None:
        """Store a request's changed fields."""
        ...

    def count_since(self, *, account_id: int | None = None, address: str | None = None,
                    since: datetime) -> int:  # fmt: skip
        """How many requests for an account, or from an address, since ``since``."""
        ...

    def supersede_open(self, account_id: int, at: datetime, keep: int | None = None) -> int:
        """Make every unused link of the account (but ``keep``'s) useless; how many."""
        ...

    def account_ids_with_email(self, email: str) -> Sequence[int]:
        """The accounts with this e-mail address (compared without regard to case)."""
        ...

    def delete_before(self, at: datetime) -> int:
        """Forget requests made before ``at``; how many."""
        ...


class Requested(StrEnum):
    """What a request really did (for the log; the page says the same every time)."""

    QUEUED = "queued"  # an e-mail with a link is on its way
    UNKNOWN = "unknown"  # no account has this login or address
    NO_EMAIL = "no-email"  # the account has no address
    DISABLED = "disabled"  # the account is disabled
    LIMITED = "limited"  # over the limit: nothing recorded, nothing sent
    MAIL_OFF = "mail-off"  # the server sends no e-mail


@dataclass(frozen=True)
class ResetLink:
    """What the e-mail of one request needs: who, where, the link and until when."""

    account: Account
    portal: Environment
    url: str
    expires_at: datetime
    language: str
    firm_name: str  # the name the portal shows: its firm's, for a client's own portal


def find_account(repo: Repository, resets: ResetRepository, text: str) -> Account | None:
    """The account a login or an e-mail address names; None when it names none (or, for
    an address, several accounts: then the login must be given)."""
    value = text.strip()
    if "@" in value:
        try:
            ids = resets.account_ids_with_email(email_address(value))
        except DomainError:
            ids = []
        if len(ids) == 1:
            return repo.account_by_id(ids[0])
    try:
        return repo.account(names.login(value))
    except DomainError:
        return None


def request(
    repo: Repository,
    resets: ResetRepository,
    jobs: JobRepository,
    policy: Policy,
    portal: Environment,
    login_or_email: str,
    address: str,
    language: str,
    *,
    mail_enabled: bool,
) -> Requested:
    """Record a forgotten-password request and queue its e-mail when the account has an
    address and neither the account nor the client address is over the limit."""
    if not mail_enabled:
        return Requested.MAIL_OFF
    now = policy.clock()
    since = now - REQUEST_WINDOW
    address = address[:64]
    account = find_account(repo, resets, login_or_email)
    # Both counts are asked whether or not the account exists: the answer takes as long.
    by_address = resets.count_since(address=address, since=since)
    by_account = resets.count_since(account_id=account.id if account else 0, since=since)
    if by_address >= ADDRESS_LIMIT or by_account >= REQUEST_LIMIT:
        return Requested.LIMITED
    reset = resets.add(
        PasswordReset(portal.id, address, language, now, account.id if account else None)
    )
    if account is None:
        return Requested.UNKNOWN
    if account.disabled:
        return Requested.DISABLED
    if not account.email:
        return Requested.NO_EMAIL
    resets.supersede_open(account.id, now, keep=reset.id)
    jobs.enqueue(MAIL_JOB, {"reset_id": reset.id}, now)
    record(repo, policy, account.login, "account.password_reset_requested", portal.code,
           address=address)  # fmt: skip
    return Requested.QUEUED


def issue_link(
    repo: Repository, resets: ResetRepository, policy: Policy, reset_id: int
) -> tuple[ResetLink, str] | None:
    """Make the link of a queued request (its secret's hash stored, valid from now for
    ``LINK_LIFETIME``) and the address to send it to; None when there is nothing to send
    any more (a newer request, a used link, an account disabled or without an address)."""
    reset = resets.get(reset_id)
    if reset is None or reset.account_id is None or reset.used_at or reset.superseded_at:
        return None
    account = repo.account_by_id(reset.account_id)
    portal = repo.environment_by_id(reset.portal_environment_id)
    if account is None or portal is None or account.disabled or not account.email:
        return None
    now = policy.clock()
    value, parts = new_secret(RESET_PREFIX)
    reset.public_id = parts.public_id
    reset.secret_hash = hash_secret(parts.secret)
    reset.expires_at = now + LINK_LIFETIME
    resets.save(reset)
    url = f"{policy.portal_url(portal.code)}/reset-password?token={value}"
    language = account.language or portal.language or reset.language
    firm = repo.environment_by_id(portal.firm_id) if portal.firm_id else None
    name = (firm or portal).name
    return ResetLink(account, portal, url, reset.expires_at, language, name), account.email


def _refused(code: ErrorCode, message: str) -> DomainError:
    return DomainError(code, message)


def check_link(resets: ResetRepository, policy: Policy, token: str) -> PasswordReset:
    """The request of a link that may still be used; ``reset_link_invalid`` (not a link
    of this server, or replaced by a newer one), ``reset_link_used`` or
    ``reset_link_expired``, each saying to ask for a new link."""
    again = _("Ask for a new link on the page for a forgotten password.")
    parts = split_secret(token.strip(), RESET_PREFIX)
    reset = resets.by_public_id(parts.public_id) if parts else None
    if (
        parts is None
        or reset is None
        or reset.secret_hash is None
        or not secret_matches(reset.secret_hash, parts.secret)
    ):
        raise _refused(
            ErrorCode.RESET_LINK_INVALID,
            _("This link is not a valid password reset link (it may be incomplete).") + " " + again,
        )
    if reset.used_at is not None:
        raise _refused(
            ErrorCode.RESET_LINK_USED,
            _("This link was already used to choose a new password.") + " " + again,
        )
    if reset.superseded_at is not None:
        raise _refused(
            ErrorCode.RESET_LINK_INVALID,
            # True whether or not the newest link was used since: either works.
            _("A newer link was sent after this one, so this one no longer works. Use the "
              "link in the newest e-mail, or ask for a new one on the page for a forgotten "
              "password."),
        )  # fmt: skip
    if reset.expires_at is None or policy.clock() >= reset.expires_at:
        raise _refused(
            ErrorCode.RESET_LINK_EXPIRED,
            _("This link has expired: a link works for 30 minutes.") + " " + again,
        )
    return reset


def reset_password(
    repo: Repository,
    web: WebRepository,
    resets: ResetRepository,
    policy: Policy,
    token: str,
    password: str,
    confirmation: str,
    address: str,
) -> tuple[Account, Environment]:
    """Set the new password of a valid link: the link is used up (with every other open
    link of the account), every session of the account ends, its failed sign-ins are
    forgotten; its second factor stays. Refusals: those of ``check_link``, and
    ``validation_error`` for a password that breaks the rules or was not typed twice
    the same."""
    reset = check_link(resets, policy, token)
    account = repo.account_by_id(reset.account_id or 0)
    portal = repo.environment_by_id(reset.portal_environment_id)
    if account is None or portal is None or account.disabled:
        raise _refused(
            ErrorCode.RESET_LINK_INVALID,
            _("This account cannot be signed in to; ask your administrator."),
        )
    if password != confirmation:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            _("The two passwords are not the same; type the new password twice."),
        )
    check_rules(password)
    now = policy.clock()
    account.password_hash = hash_password(password)
    repo.save_account(account)
    reset.used_at = now
    resets.save(reset)
    resets.supersede_open(account.id, now)
    ended = web.delete_sessions_of(account.id)
    web.clear_failures(account.login)
    record(repo, policy, account.login, "account.password_reset", portal.code,
           address=address[:64], sessions_ended=ended)  # fmt: skip
    return account, portal


def purge(resets: ResetRepository, policy: Policy) -> int:
    """Housekeeping: forget requests too old to count or to be used; how many."""
    return resets.delete_before(policy.clock() - KEPT)
