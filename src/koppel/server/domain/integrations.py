"""Integrations: programs (a payroll package, a document scanner) that put files into
users' My files through the API, each with an API key of its own.

A key belongs to one environment and is named after the integration; it may deliver to
any user of that environment, and every delivery is in the audit log under
``integration:<name>``. It is never a user's password: an administrator creates it with
``koppel-admin integrations create`` (it is shown once, stored only as a hash) and
revokes it when the integration goes. A key that is unknown, revoked or of another
environment gets one and the same answer, so a caller learns nothing from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from koppel.i18n import gettext as _
from koppel.protocol.errors import ErrorCode
from koppel.protocol.secrets import INTEGRATION_PREFIX, new_secret, split_secret
from koppel.server.domain import lookups
from koppel.server.domain.audit import record
from koppel.server.domain.errors import DomainError
from koppel.server.domain.hashing import hash_secret, secret_matches
from koppel.server.domain.model import Environment, Membership
from koppel.server.domain.policy import Policy
from koppel.server.domain.repository import Repository

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")
# "Last used" is written at most once a minute: not a database write per delivery.
_USE_GRANULARITY = timedelta(minutes=1)


@dataclass
class IntegrationKey:
    """An integration's API key in one environment (only its hash is stored)."""

    environment_id: int
    name: str
    public_id: str
    secret_hash: str
    created_at: datetime
    created_by: str
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    id: int = 0

    @property
    def actor(self) -> str:
        """Who the audit log names for this key's deliveries."""
        return f"integration:{self.name}"


class IntegrationKeyRepository(Protocol):
    """Storage of integration keys, within one unit of work."""

    def add_key(self, key: IntegrationKey) -> IntegrationKey:
        """Store a new key; it comes back with its id."""
        ...

    def key_by_public_id(self, public_id: str) -> IntegrationKey | None:
        """The key with this public id."""
        ...

    def keys_of(self, environment_id: int) -> list[IntegrationKey]:
        """Every key of an environment, revoked ones included, oldest first."""
        ...

    def save_key(self, key: IntegrationKey) -> None:
        """Write a key's changed fields."""
        ...


def _name(text: str) -> str:
    name = text.strip()
    if not _NAME.match(name):
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            _(
                "{text!r} is not a valid integration name: use 1 to 64 letters, digits, "
                "spaces, '.', '_' or '-', e.g. payroll."
            ).format(text=text),
        )
    return name


def create(
    repo: Repository,
    keys: IntegrationKeyRepository,
    policy: Policy,
    actor: str,
    code: str,
    name: str,
) -> tuple[str, IntegrationKey]:
    """A new API key for an integration in one environment: the key (shown once) and its
    record. A name already in use by an active key is refused: revoke that one first."""
    env = lookups.environment(repo, code)
    name = _name(name)
    if any(k.name.lower() == name.lower() and k.revoked_at is None for k in keys.keys_of(env.id)):
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            _(
                "The integration {name} already has an active key in {code}. Revoke it first "
                "(koppel-admin integrations revoke {code} {name!r}) or choose another name."
            ).format(name=name, code=env.code),
            environment=env.code,
        )
    secret, parts = new_secret(INTEGRATION_PREFIX)
    key = keys.add_key(
        IntegrationKey(
            environment_id=env.id,
            name=name,
            public_id=parts.public_id,
            secret_hash=hash_secret(parts.secret),
            created_at=policy.clock(),
            created_by=actor,
        )
    )
    record(repo, policy, actor, "integration.create", env.code, name=name, key=key.public_id)
    return secret, key


def listing(
    repo: Repository, keys: IntegrationKeyRepository, code: str, include_revoked: bool = False
) -> tuple[Environment, list[IntegrationKey]]:
    """The integration keys of an environment (active ones, or all)."""
    env = lookups.environment(repo, code)
    found = keys.keys_of(env.id)
    return env, [k for k in found if include_revoked or k.revoked_at is None]


def revoke(
    repo: Repository,
    keys: IntegrationKeyRepository,
    policy: Policy,
    actor: str,
    code: str,
    name_or_id: str,
) -> tuple[bool, IntegrationKey]:
    """Revoke an integration's key (by name or key id): refused from the next request on.
    Whether anything changed (a revoked key stays revoked)."""
    env = lookups.environment(repo, code)
    wanted = name_or_id.strip()
    matches = [
        k for k in keys.keys_of(env.id) if k.public_id == wanted or k.name.lower() == wanted.lower()
    ]
    active = [k for k in matches if k.revoked_at is None]
    if not matches:
        raise DomainError(
            ErrorCode.NOT_FOUND,
            _(
                "{code} has no integration key {wanted!r} (see koppel-admin integrations list "
                "{code})."
            ).format(code=env.code, wanted=wanted),
            environment=env.code,
        )
    if not active:
        return False, matches[-1]
    key = active[0]
    key.revoked_at, key.revoked_by = policy.clock(), actor
    keys.save_key(key)
    record(repo, policy, actor, "integration.revoke", env.code, name=key.name, key=key.public_id)
    return True, key


def _refused(code: str) -> DomainError:
    return DomainError(
        ErrorCode.TOKEN_INVALID,
        _(
            "This API key does not open environment {code}: it is unknown, revoked, or for "
            "another environment. Ask the environment's administrator for a key (koppel-admin "
            "integrations create ENVIRONMENT NAME)."
        ).format(code=code),
    )


def authenticate(
    repo: Repository,
    keys: IntegrationKeyRepository,
    policy: Policy,
    presented: str | None,
    code: str,
) -> tuple[IntegrationKey, Environment]:
    """The key and environment a request may deliver in; one refusal for every failure."""
    parts = split_secret(presented or "", INTEGRATION_PREFIX)
    key = keys.key_by_public_id(parts.public_id) if parts else None
    env = repo.environment(code.strip().upper()) if key is not None else None
    if (
        parts is None
        or key is None
        or env is None
        or key.environment_id != env.id
        or key.revoked_at is not None
        or not secret_matches(key.secret_hash, parts.secret)
    ):
        raise _refused(code.strip().upper()[:32])
    now = policy.clock()
    if key.last_used_at is None or now - key.last_used_at >= _USE_GRANULARITY:
        key.last_used_at = now
        keys.save_key(key)
    return key, env


def recipient(repo: Repository, env: Environment, login: str) -> Membership:
    """The user of the environment who receives a delivery."""
    return lookups.membership(repo, env, lookups.account(repo, login))


def record_delivery(
    repo: Repository,
    policy: Policy,
    key: IntegrationKey,
    env: Environment,
    login: str,
    name: str,
    file_id: int,
) -> None:
    """The audit entry of a delivery: which integration gave which user which file."""
    record(
        repo, policy, key.actor, "file.push", env.code, user=login, file=name, file_id=file_id,
        key=key.public_id,
    )  # fmt: skip
