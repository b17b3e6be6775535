"""Approving a workstation in the browser: the OAuth 2.0 device authorization grant
(RFC 8628), through which the agent gets a settings file, a bundle or an installation
without ever handling the user's password.

The agent asks for a *scope* (``settings:F10001``, ``bundle:F10001``,
``installation:C20001``) and gets a device code, which it keeps, and a user code, which
it shows. The user opens the server's device page, enters the user code and signs in
there with the password and, when enrolled, the second factor, under the same policy as
every other door (``sign_in``: lockout per login and per address, failures recorded),
then approves or denies. The agent polls; once approved it receives a short-lived access
token valid for that scope alone.

Nothing before the sign-in depends on the environment asked for, so the page tells an
unauthenticated visitor nothing about which environments exist; after the sign-in, an
environment the user is not a user of gets the same answer whether or not it exists.
The device code, the user code, the browser's binding and the access token are stored
only as hashes.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

from koppel.i18n import N_
from koppel.i18n import gettext as _
from koppel.protocol.device import parse_scope, scope_text
from koppel.protocol.errors import ErrorCode
from koppel.protocol.secrets import ACCESS_PREFIX, new_secret, split_secret
from koppel.server.domain.audit import record
from koppel.server.domain.errors import DomainError
from koppel.server.domain.hashing import hash_secret, secret_matches
from koppel.server.domain.model import Account
from koppel.server.domain.policy import Policy
from koppel.server.domain.portal import second_factor, sign_in
from koppel.server.domain.portal.model import WebRepository
from koppel.server.domain.repository import Repository

GrantState = Literal["pending", "approved", "denied", "issued"]

# How long a user has to approve (RFC 8628's expires_in), how often the agent may ask
# (its interval; each too-early poll adds five seconds), and how long the access token
# of an approval lives: long enough to download an installation, short enough to be
# worthless on a stolen disk.
GRANT_LIFETIME = timedelta(minutes=15)
POLL_INTERVAL = 5
ACCESS_LIFETIME = timedelta(minutes=10)
# Grants one address may have waiting at once: enough for a practice behind one NAT,
# too few to flood the table.
MAX_PENDING_PER_ADDRESS = 30
# RFC 8628 section 6.1: letters without vowels (no words) and without look-alikes.
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8


@dataclass
class DeviceGrant:
    """One device authorization: what the agent asked for and how far the user got."""

    device_code_hash: str
    user_code_hash: str
    scope: str
    client_id: str
    workstation: str
    address: str
    created_at: datetime
    expires_at: datetime
    interval: int = POLL_INTERVAL
    state: GrantState = "pending"
    last_polled_at: datetime | None = None
    account_id: int | None = None
    # The browser that signed in for this grant (the hash of its cookie's secret): only
    # that browser may give the second factor and the decision.
    binding_hash: str | None = None
    second_factor_done: bool = False
    decided_at: datetime | None = None
    denial: str | None = None
    access_public_id: str | None = None
    access_hash: str | None = None
    access_expires_at: datetime | None = None
    id: int = 0

    @property
    def scopes(self) -> list[tuple[str, str]]:
        """The (action, environment code) pairs asked for."""
        return parse_scope(self.scope)


class DeviceGrantRepository(Protocol):
    """Storage of device authorizations, within one unit of work."""

    def add_grant(self, grant: DeviceGrant) -> DeviceGrant:
        """Store a new grant; it comes back with its id."""
        ...

    def grant_by_device_code(self, device_code_hash: str) -> DeviceGrant | None:
        """The grant of a device code (by its hash)."""
        ...

    def grant_by_user_code(self, user_code_hash: str) -> DeviceGrant | None:
        """The grant of a user code (by its hash)."""
        ...

    def grant_by_access(self, public_id: str) -> DeviceGrant | None:
        """The grant whose access token has this public id."""
        ...

    def save_grant(self, grant: DeviceGrant) -> None:
        """Write a grant's changed fields."""
        ...

    def pending_grants_from(self, address: str, since: datetime) -> int:
        """How many grants an address started since ``since`` that await a decision."""
        ...

    def delete_grants_before(self, at: datetime) -> int:
        """Forget grants (and their access tokens) whose codes expired before ``at``."""
        ...


def new_user_code() -> str:
    """A code to type: eight letters in two groups (``BDFH-KLMN``), about 35 bits."""
    letters = "".join(secrets.choice(USER_CODE_ALPHABET) for _index in range(USER_CODE_LENGTH))
    return f"{letters[:4]}-{letters[4:]}"


def normalise_user_code(text: str) -> str:
    """A typed user code as stored: case, spaces and dashes do not matter."""
    return "".join(c for c in text.upper() if c in USER_CODE_ALPHABET)


def checked_scope(scope: str) -> str:
    """A requested scope in its stored form, or ``validation_error``."""
    try:
        return scope_text(parse_scope(scope))
    except ValueError as exc:
        raise DomainError(ErrorCode.VALIDATION_ERROR, str(exc)) from exc


def _expired_code() -> DomainError:
    return DomainError(
        ErrorCode.DEVICE_CODE_INVALID,
        _(
            "This code is not valid: it was mistyped, already used, or has expired (codes last "
            "15 minutes). Check the code Koppel shows on your computer, or start again there."
        ),
    )


def start(
    store: DeviceGrantRepository,
    policy: Policy,
    *,
    device_code: str,
    user_code: str,
    scope: str,
    client_id: str,
    workstation: str,
    address: str,
) -> DeviceGrant:
    """Record a new device authorization (codes made by the caller, stored hashed)."""
    stored_scope = checked_scope(scope)  # refused before anything is stored
    now = policy.clock()
    if store.pending_grants_from(address, now - GRANT_LIFETIME) >= MAX_PENDING_PER_ADDRESS:
        raise DomainError(
            ErrorCode.TOO_MANY_ATTEMPTS,
            _(
                "Too many approvals were started from this address; finish or let them expire, "
                "then try again in a few minutes."
            ),
        )
    code_hash = hash_secret(normalise_user_code(user_code))
    if store.grant_by_user_code(code_hash) is not None:
        raise DomainError(ErrorCode.TOO_MANY_ATTEMPTS, _("Please try again."))  # a collision
    return store.add_grant(
        DeviceGrant(
            device_code_hash=hash_secret(device_code),
            user_code_hash=code_hash,
            scope=stored_scope,
            client_id=client_id,
            workstation=workstation.strip()[:200] or "a workstation",
            address=address[:64],
            created_at=now,
            expires_at=now + GRANT_LIFETIME,
        )
    )


def awaiting(
    store: DeviceGrantRepository, web: WebRepository, policy: Policy, user_code: str, address: str
) -> DeviceGrant:
    """The grant a typed user code names, still awaiting a decision; else
    ``device_code_invalid`` (counted against the address, so codes cannot be guessed)."""
    sign_in.check_address(web, policy, address)
    grant = store.grant_by_user_code(hash_secret(normalise_user_code(user_code)))
    if grant is None or grant.state != "pending" or grant.expires_at <= policy.clock():
        raise _expired_code()
    return grant


def record_wrong_code(web: WebRepository, policy: Policy, address: str) -> None:
    """Count a wrong user code against the address (no login: nobody is locked out)."""
    web.add_failure("", address[:64], policy.clock())


def sign_in_for(
    repo: Repository,
    store: DeviceGrantRepository,
    web: WebRepository,
    policy: Policy,
    grant: DeviceGrant,
    login: str,
    password: str,
    address: str,
) -> tuple[str, bool]:
    """The password step, under the sign-in policy; binds the grant to this browser.
    The browser's binding secret (for its cookie) and whether the second factor follows."""
    account = sign_in.password_account(repo, web, policy, login, password, address)
    needs_second_factor = sign_in.has_second_factor(web, account)
    if not needs_second_factor:
        web.clear_failures(account.login)
    binding = secrets.token_urlsafe(32)
    grant.account_id = account.id
    grant.binding_hash = hash_secret(binding)
    grant.second_factor_done = not needs_second_factor
    store.save_grant(grant)
    record(
        repo, policy, account.login, "device.sign_in", workstation=grant.workstation,
        address=address,
    )  # fmt: skip
    return binding, needs_second_factor


def bound(
    repo: Repository,
    store: DeviceGrantRepository,
    policy: Policy,
    user_code: str,
    binding: str | None,
) -> tuple[DeviceGrant, Account]:
    """The grant this browser signed in for, and who signed in; else ``device_code_invalid``."""
    grant = store.grant_by_user_code(hash_secret(normalise_user_code(user_code)))
    if (
        grant is None
        or grant.state != "pending"
        or grant.expires_at <= policy.clock()
        or grant.binding_hash is None
        or not binding
        or not secret_matches(grant.binding_hash, binding)
        or grant.account_id is None
    ):
        raise _expired_code()
    account = repo.account_by_id(grant.account_id)
    if account is None or account.disabled:
        raise _expired_code()
    return grant, account


def give_second_factor(
    repo: Repository,
    store: DeviceGrantRepository,
    web: WebRepository,
    policy: Policy,
    grant: DeviceGrant,
    account: Account,
    code: str,
    address: str,
) -> None:
    """The second-factor step (wrong codes are failed sign-ins, recorded by the caller)."""
    second_factor.prove(repo, web, policy, account, code, address)
    grant.second_factor_done = True
    store.save_grant(grant)


@dataclass(frozen=True)
class Asked:
    """One thing a grant asks for, as its signed-in user may see it."""

    action: str
    code: str
    name: str | None  # None: unknown, or the user is not a user of it (indistinguishable)


def asked(repo: Repository, grant: DeviceGrant, account: Account) -> list[Asked]:
    """What the grant asks for; environment names only where the account is a user."""
    found: list[Asked] = []
    for action, code in grant.scopes:
        env = repo.environment(code)
        member = env is not None and repo.membership(env.id, account.id) is not None
        found.append(Asked(action, code, env.name if env is not None and member else None))
    return found


# Why a grant was denied. The reason is stored in English with its values (``stored_denial``)
# and translated when the agent's poll reads it (``denial_text``): the approving browser
# and the agent may speak different languages.
_NOT_A_USER = N_(
    "{login} is not a user of environment {code}, so this request cannot be approved with "
    "this account. Check the environment code you gave Koppel, or ask your administrator "
    "to add you."
)
_DENIED = N_("The request was denied in the browser.")


def _unapprovable(repo: Repository, grant: DeviceGrant, account: Account) -> dict[str, str] | None:
    """The values of the ``_NOT_A_USER`` reason, or None when the account may approve."""
    for item in asked(repo, grant, account):
        if item.name is None:
            return {"login": account.login, "code": item.code}
    return None


def refusal_for(repo: Repository, grant: DeviceGrant, account: Account) -> str | None:
    """Why this account cannot approve the grant (in the current language), or None. An
    unknown environment and one the account is not a user of read the same."""
    values = _unapprovable(repo, grant, account)
    return None if values is None else _(_NOT_A_USER).format(**values)


def stored_denial(message: str, values: Mapping[str, str]) -> str:
    """A denial's reason as stored: the English message (marked with ``N_``) and its values."""
    return json.dumps({"message": message, "values": dict(values)})


def denial_text(stored: str | None) -> str:
    """A stored denial's reason in the current language (a reason stored as plain text by an
    earlier release is shown as it is, translated when it is a known message)."""
    if not stored:
        return _("Denied.")
    try:
        data = json.loads(stored)
    except ValueError:
        return _(stored)
    if not isinstance(data, dict) or not isinstance(data.get("message"), str):
        return _(stored)
    values = data.get("values")
    return _(data["message"]).format(**(values if isinstance(values, dict) else {}))


def decide(
    repo: Repository,
    store: DeviceGrantRepository,
    policy: Policy,
    grant: DeviceGrant,
    account: Account,
    approve: bool,
) -> DeviceGrant:
    """Approve or deny. Approval needs the second factor (when enrolled) and an account
    that is a user of every environment asked for; otherwise the grant is denied with the
    reason, which the agent then shows."""
    if not grant.second_factor_done:
        raise DomainError(
            ErrorCode.SIGN_IN_REQUIRED,
            _("Give the code of your authenticator app first."),
        )
    values = _unapprovable(repo, grant, account)
    grant.decided_at = policy.clock()
    if approve and values is None:
        grant.state = "approved"
    else:
        grant.state = "denied"
        grant.denial = (
            stored_denial(_NOT_A_USER, values) if values is not None else stored_denial(_DENIED, {})
        )
    store.save_grant(grant)
    record(
        repo, policy, account.login, f"device.{'approve' if grant.state == 'approved' else 'deny'}",
        scope=grant.scope, workstation=grant.workstation,
    )  # fmt: skip
    return grant


def by_device_code(store: DeviceGrantRepository, device_code: str) -> DeviceGrant | None:
    """The grant of a device code that has not yet given its access token."""
    grant = store.grant_by_device_code(hash_secret(device_code))
    return grant if grant is not None and grant.state != "issued" else None


def too_early(store: DeviceGrantRepository, policy: Policy, grant: DeviceGrant) -> bool:
    """Record a poll; True when it came sooner than the interval allows, which then
    grows by five seconds (RFC 8628 ``slow_down``)."""
    now = policy.clock()
    early = (
        grant.last_polled_at is not None
        and (now - grant.last_polled_at).total_seconds() < grant.interval
    )
    if early:
        grant.interval += 5
    grant.last_polled_at = now
    store.save_grant(grant)
    return early


def issue_access(store: DeviceGrantRepository, policy: Policy, grant: DeviceGrant) -> str:
    """Exchange an approved grant, once, for its access token."""
    if grant.state != "approved":
        raise DomainError(ErrorCode.DEVICE_CODE_INVALID, _("This request is not approved."))
    token, parts = new_secret(ACCESS_PREFIX)
    grant.state = "issued"
    grant.access_public_id = parts.public_id
    grant.access_hash = hash_secret(parts.secret)
    grant.access_expires_at = policy.clock() + ACCESS_LIFETIME
    store.save_grant(grant)
    return token


def is_access_token(credential: str) -> bool:
    """Whether a bearer credential has the shape of an approval's access token."""
    return credential.startswith(ACCESS_PREFIX)


def access(
    repo: Repository,
    store: DeviceGrantRepository,
    policy: Policy,
    token: str,
    action: str,
    code: str,
) -> Account:
    """The account an access token acts for, when its approval covers ``action`` on the
    environment ``code``; else ``token_invalid`` (the same for every reason)."""
    parts = split_secret(token, ACCESS_PREFIX)
    grant = store.grant_by_access(parts.public_id) if parts else None
    wanted = (action, code.strip().upper())
    valid = (
        parts is not None
        and grant is not None
        and grant.access_hash is not None
        and secret_matches(grant.access_hash, parts.secret)
        and grant.access_expires_at is not None
        and grant.access_expires_at > policy.clock()
        and wanted in grant.scopes
        and grant.account_id is not None
    )
    account = repo.account_by_id(grant.account_id) if valid and grant and grant.account_id else None
    if account is None or account.disabled:
        raise DomainError(
            ErrorCode.TOKEN_INVALID,
            _(
                "This approval does not cover {action} of {code}, or it has expired (approvals "
                "last 10 minutes). Run the command again and approve it in your browser."
            ).format(action=action, code=code),
        )
    return account


def housekeeping(store: DeviceGrantRepository, policy: Policy) -> int:
    """Forget grants whose codes and access tokens can no longer be used."""
    # A grant's access token outlives its codes by at most ACCESS_LIFETIME.
    return store.delete_grants_before(policy.clock() - ACCESS_LIFETIME)
