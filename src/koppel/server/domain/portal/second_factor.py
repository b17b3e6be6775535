"""The optional second factor: TOTP (RFC 6238) with single-use recovery codes.

A code is HMAC-SHA1 over the 30-second time step, 6 digits, accepted one step either
side of now (clocks of phones drift). A time step is accepted at most once: the last
accepted step is stored, so a code seen over someone's shoulder cannot be replayed.
Recovery codes are shown once and stored only as SHA-256, like every other secret.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import struct
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlencode

from koppel.i18n import gettext as _
from koppel.protocol.errors import ErrorCode
from koppel.server.domain.audit import record
from koppel.server.domain.errors import DomainError
from koppel.server.domain.hashing import hash_secret, secret_matches
from koppel.server.domain.model import Account, Environment
from koppel.server.domain.passwords import verify_password
from koppel.server.domain.policy import Policy
from koppel.server.domain.portal import sign_in
from koppel.server.domain.portal.model import SecondFactor, WebRepository, WebSession
from koppel.server.domain.repository import Repository

ISSUER = "Koppel"
DIGITS = 6
PERIOD = 30
WINDOW = 1
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off paper
_RECOVERY_LENGTH = 10  # about 49 bits each, behind the sign-in lockout


# --- RFC 4226 / RFC 6238 core


def hotp(key: bytes, counter: int, digits: int = DIGITS, digest: str = "sha1") -> str:
    """The HOTP value of ``counter`` (RFC 4226 dynamic truncation), ``digits`` long."""
    mac = hmac.new(key, struct.pack(">Q", counter), digest).digest()
    offset = mac[-1] & 0x0F
    number = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**digits).zfill(digits)


def time_step(unix_time: float, period: int = PERIOD) -> int:
    """The RFC 6238 time step ``T`` of a moment (T0 = 0)."""
    return int(unix_time // period)


def totp(
    key: bytes, unix_time: float, digits: int = DIGITS, period: int = PERIOD, digest: str = "sha1"
) -> str:
    """The TOTP value at ``unix_time``."""
    return hotp(key, time_step(unix_time, period), digits, digest)


def new_secret() -> str:
    """A fresh 160-bit TOTP secret in base32, as authenticator apps take it."""
    return base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")


def key_of(secret: str) -> bytes:
    """The key bytes of a base32 secret (padding and case tolerated)."""
    cleaned = secret.strip().replace(" ", "").upper()
    return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))


def matching_step(
    secret: str, code: str, now: datetime, last_step: int = 0, window: int = WINDOW
) -> int | None:
    """The time step ``code`` belongs to, within ``window`` steps of ``now`` and later
    than ``last_step``; None when it matches none of them."""
    if len(code) != DIGITS or not (code.isascii() and code.isdigit()):
        return None
    key = key_of(secret)
    current = time_step(now.timestamp())
    found = None
    for step in range(current - window, current + window + 1):
        # Compare every candidate (constant time, no early exit on a match).
        if hmac.compare_digest(hotp(key, step), code) and step > last_step and found is None:
            found = step
    return found


def provisioning_uri(secret: str, login: str, portal_name: str) -> str:
    """The ``otpauth://`` URI the QR code carries: issuer Koppel, the login and portal."""
    label = quote(f"{ISSUER}:{login} ({portal_name})", safe="")
    query = urlencode(
        {
            "secret": secret,
            "issuer": ISSUER,
            "algorithm": "SHA1",
            "digits": DIGITS,
            "period": PERIOD,
        },
        quote_via=quote,
    )
    return f"otpauth://totp/{label}?{query}"


# --- recovery codes


def _normalised_recovery(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def _new_recovery_codes() -> list[str]:
    codes = []
    for _index in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def _store_recovery_codes(store: WebRepository, account_id: int) -> list[str]:
    codes = _new_recovery_codes()
    store.replace_recovery_codes(account_id, [hash_secret(_normalised_recovery(c)) for c in codes])
    return codes


# --- the account's second factor


@dataclass(frozen=True)
class Status:
    """What the security page says about an account's second factor."""

    enabled: bool
    pending: SecondFactor | None
    confirmed_at: datetime | None
    recovery_left: int


def status(store: WebRepository, account: Account) -> Status:
    """Whether TOTP is on, an enrolment awaits its first code, and codes left."""
    factor = store.second_factor(account.id)
    if factor is None:
        return Status(False, None, None, 0)
    if factor.confirmed_at is None:
        return Status(False, factor, None, 0)
    left = sum(1 for c in store.recovery_codes(account.id) if c.used_at is None)
    return Status(True, None, factor.confirmed_at, left)


def _invalid(message: str) -> DomainError:
    return DomainError(ErrorCode.SECOND_FACTOR_INVALID, message)


def _confirmed(store: WebRepository, account: Account) -> SecondFactor:
    factor = store.second_factor(account.id)
    if factor is None or factor.confirmed_at is None:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            _("Two-step verification is not on for this account; turn it on first."),
        )
    return factor


def enrol(
    repo: Repository, store: WebRepository, policy: Policy, account: Account, portal: Environment
) -> SecondFactor:
    """Start an enrolment: a new secret, unused until confirmed with a first code (an
    earlier unconfirmed enrolment is replaced)."""
    factor = store.second_factor(account.id)
    if factor is not None and factor.confirmed_at is not None:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            _("Two-step verification is already on. Turn it off first to use another phone."),
        )
    if factor is None:
        factor = SecondFactor(account.id, new_secret())
    else:
        factor.secret, factor.last_step = new_secret(), 0
    store.save_second_factor(factor)
    record(repo, policy, account.login, "second_factor.enrol", portal.code)
    return factor


def confirm(
    repo: Repository,
    store: WebRepository,
    policy: Policy,
    account: Account,
    portal: Environment,
    code: str,
) -> list[str]:
    """Turn the pending enrolment on with a first code from the app; the recovery codes
    (to show once)."""
    factor = store.second_factor(account.id)
    if factor is None or factor.confirmed_at is not None:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            _(
                "There is no enrolment waiting for a first code; start again from the security "
                "page."
            ),
        )
    step = matching_step(factor.secret, code.strip().replace(" ", ""), policy.clock())
    if step is None:
        raise _invalid(
            _(
                "That code does not match. Check that the app shows the Koppel entry you just "
                "added and that the phone's clock is right, then enter the current code."
            )
        )
    factor.confirmed_at, factor.last_step = policy.clock(), step
    store.save_second_factor(factor)
    codes = _store_recovery_codes(store, account.id)
    record(repo, policy, account.login, "second_factor.confirm", portal.code)
    return codes


def _check_code(
    repo: Repository,
    store: WebRepository,
    policy: Policy,
    account: Account,
    where: str | None,
    factor: SecondFactor,
    code: str,
) -> str:
    """Accept a TOTP code (consuming its step) or an unused recovery code (marking it
    used); which of the two it was, or ``second_factor_invalid``."""
    given = code.strip().replace(" ", "")
    now = policy.clock()
    step = matching_step(factor.secret, given, now, factor.last_step)
    if step is not None:
        factor.last_step = step
        store.save_second_factor(factor)
        return "totp"
    wanted = _normalised_recovery(given)
    if len(wanted) == _RECOVERY_LENGTH:
        for candidate in store.recovery_codes(account.id):
            if candidate.used_at is None and secret_matches(candidate.code_hash, wanted):
                store.use_recovery_code(candidate.id, now)
                left = sum(1 for c in store.recovery_codes(account.id) if c.used_at is None)
                record(
                    repo,
                    policy,
                    account.login,
                    "second_factor.recovery_used",
                    where,
                    left=left,
                )
                return "recovery"
    raise _invalid(
        _(
            "That code is wrong or was already used. Enter the current code from your "
            "authenticator app, or one of your unused recovery codes."
        )
    )


def verify(
    repo: Repository,
    store: WebRepository,
    policy: Policy,
    account: Account,
    portal: Environment,
    session: WebSession,
    code: str,
    address: str,
) -> str:
    """The sign-in's second step: a locked login is refused first (wrong codes count
    as failed sign-ins, see ``sign_in.record_failure``); a right code completes the
    session. Which kind of code it was."""
    sign_in.check_throttle(store, policy, account.login, address)
    factor = store.second_factor(account.id)
    if factor is not None and factor.confirmed_at is not None:
        kind = _check_code(repo, store, policy, account, portal.code, factor, code)
    else:
        kind = "none"  # turned off (by an administrator) while this sign-in was pending
    store.clear_failures(account.login)
    session.second_factor_done = True
    store.save_session(session)
    return kind


def prove(
    repo: Repository,
    store: WebRepository,
    policy: Policy,
    account: Account,
    code: str,
    address: str,
) -> str:
    """The second factor given outside a portal session (the device approval page): the
    lockout first, then the code (wrong ones count as failed sign-ins, recorded by the
    caller); a right code clears the failures. Which kind of code it was."""
    sign_in.check_throttle(store, policy, account.login, address)
    factor = store.second_factor(account.id)
    if factor is None or factor.confirmed_at is None:
        return "none"  # turned off (by an administrator) while the approval was pending
    kind = _check_code(repo, store, policy, account, None, factor, code)
    store.clear_failures(account.login)
    return kind


def _prove(
    repo: Repository,
    store: WebRepository,
    policy: Policy,
    account: Account,
    portal: Environment,
    factor: SecondFactor,
    code: str,
    password: str,
    address: str,
) -> None:
    """A current code or the password, before a change that weakens the account."""
    sign_in.check_throttle(store, policy, account.login, address)
    if password:
        if not verify_password(account.password_hash, password):
            raise _invalid(_("The password is wrong, so nothing was changed."))
        return
    _check_code(repo, store, policy, account, portal.code, factor, code)


def regenerate_recovery_codes(
    repo: Repository,
    store: WebRepository,
    policy: Policy,
    account: Account,
    portal: Environment,
    *,
    code: str = "",
    password: str = "",
    address: str = "",
) -> list[str]:
    """New recovery codes (the old ones stop working) after a code or the password."""
    factor = _confirmed(store, account)
    _prove(repo, store, policy, account, portal, factor, code, password, address)
    codes = _store_recovery_codes(store, account.id)
    record(repo, policy, account.login, "second_factor.recovery_codes", portal.code)
    return codes


def disable(
    repo: Repository,
    store: WebRepository,
    policy: Policy,
    account: Account,
    portal: Environment,
    *,
    code: str = "",
    password: str = "",
    address: str = "",
) -> bool:
    """Turn the second factor off (a current code or the password proves it is the
    owner; an enrolment never confirmed is simply dropped). Whether there was one."""
    factor = store.second_factor(account.id)
    if factor is None:
        return False
    if factor.confirmed_at is not None:
        _prove(repo, store, policy, account, portal, factor, code, password, address)
    store.delete_second_factor(account.id)
    record(repo, policy, account.login, "second_factor.disable", portal.code)
    return True


def reset(
    repo: Repository, store: WebRepository, policy: Policy, actor: str, account: Account
) -> bool:
    """The administrator's reset for a lost phone: the second factor and its recovery
    codes are removed, and the account's sessions end (whoever has the phone may have
    signed in with it). Whether there was one."""
    if store.second_factor(account.id) is None:
        return False
    store.delete_second_factor(account.id)
    ended = store.delete_sessions_of(account.id)
    record(repo, policy, actor, "second_factor.reset", None, login=account.login,
           sessions_ended=ended)  # fmt: skip
    return True


def sign_out_elsewhere(
    repo: Repository,
    store: WebRepository,
    policy: Policy,
    account: Account,
    portal: Environment,
    session: WebSession,
) -> int:
    """End every other session of the account (a lost or shared computer); how many."""
    ended = store.delete_sessions_of(account.id, keep=session.id)
    if ended:
        record(
            repo, policy, account.login, "portal.sign_out_elsewhere", portal.code, sessions=ended
        )
    return ended
