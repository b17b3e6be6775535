"""Portal sessions: started by a sign-in, ended by sign-out, inactivity or age.

The cookie value has the shape of a token (``kpls_<public id>_<secret>``) and only the
SHA-256 of the secret is stored, so a copy of the database signs nobody in. The CSRF
token forms carry is derived from the same secret (HMAC-SHA256), so it is not stored
either: a copy of the database forges no form.
"""

from __future__ import annotations

import secrets

from koppel.protocol.secrets import new_secret, split_secret
from koppel.server.domain.hashing import derive_secret, hash_secret, secret_matches
from koppel.server.domain.policy import Policy
from koppel.server.domain.portal.model import WebRepository, WebSession

SESSION_PREFIX = "kpls_"
_CSRF_PURPOSE = "koppel portal csrf"


def csrf_token_of(secret: str) -> str:
    """The CSRF token of the session whose cookie carries ``secret``."""
    return derive_secret(secret, _CSRF_PURPOSE)


def start(
    store: WebRepository, policy: Policy, account_id: int, portal_id: int, *, verified: bool
) -> tuple[str, WebSession]:
    """A new session and the cookie value that carries it. ``verified`` is False while
    the second factor is still to be given."""
    now = policy.clock()
    value, parts = new_secret(SESSION_PREFIX)
    session = WebSession(
        public_id=parts.public_id,
        secret_hash=hash_secret(parts.secret),
        account_id=account_id,
        portal_environment_id=portal_id,
        second_factor_done=verified,
        created_at=now,
        last_seen_at=now,
        expires_at=now + policy.session_max,
        csrf_token=csrf_token_of(parts.secret),
    )
    return value, store.add_session(session)


def resume(store: WebRepository, policy: Policy, cookie: str | None) -> WebSession | None:
    """The live session a cookie carries (its last use moved to now), or None when the
    cookie is missing, forged, expired or idle too long (an ended session is deleted)."""
    parts = split_secret(cookie or "", SESSION_PREFIX)
    if parts is None:
        return None
    session = store.session(parts.public_id)
    if session is None or not secret_matches(session.secret_hash, parts.secret):
        return None
    session.csrf_token = csrf_token_of(parts.secret)
    now = policy.clock()
    if now >= session.expires_at or now - session.last_seen_at >= policy.session_idle:
        store.delete_session(session.id)
        return None
    # Writing on every request would serialise page views on SQLite; a minute is enough
    # precision for an idle timeout counted in hours.
    if (now - session.last_seen_at).total_seconds() >= 60:
        session.last_seen_at = now
        store.save_session(session)
    return session


def csrf_matches(session: WebSession, presented: str | None) -> bool:
    """Whether a form's CSRF token is this session's (constant-time comparison)."""
    if not session.csrf_token or not presented or not presented.isascii():
        return False
    return secrets.compare_digest(session.csrf_token, presented)


def end(store: WebRepository, session: WebSession) -> None:
    """Sign out: the session stops working at once."""
    store.delete_session(session.id)


def purge(store: WebRepository, policy: Policy) -> tuple[int, int]:
    """Housekeeping: delete ended sessions and failed sign-ins that no longer count
    (older than the lockout window); how many of each."""
    now = policy.clock()
    sessions = store.delete_sessions_before(expired=now, idle=now - policy.session_idle)
    failures = store.delete_failures_before(now - policy.lockout)
    return sessions, failures
