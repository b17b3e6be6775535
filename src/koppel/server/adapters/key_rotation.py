"""Rotating the secret key (``koppel-admin secret-key rotate``) and showing which keys the
database needs (``status``).

With the key file, a rotation writes a new key first in the file (the older keys stay
after it, for backups of the database made before) and encrypts every stored secret
again with it. A running server reads the replaced file at its next use of a secret.
With ``KOPPEL_SECRET_KEY`` Koppel cannot change the key: the operator puts a new key
first in the variable on every server, and the rotation encrypts everything with it.
"""

from __future__ import annotations

from dataclasses import dataclass

from koppel.server.adapters.db import sealed
from koppel.server.adapters.db.database import Database
from koppel.server.adapters.secret_key import VARIABLE, Key, SecretKeyError, SecretKeys
from koppel.server.domain.audit import record
from koppel.server.domain.policy import Policy


class NothingToRotate(Exception):
    """The keys come from the variable and everything is sealed with its first key."""


@dataclass(frozen=True)
class KeyUse:
    """One key this server holds, and how many stored values it sealed."""

    id: str
    encrypts: bool
    values: int


@dataclass(frozen=True)
class KeyStatus:
    """Where the keys are, each key's use, and values sealed with keys not held."""

    source: str
    keys: list[KeyUse]
    plain: int
    unknown: dict[str, int]


@dataclass(frozen=True)
class Rotation:
    """What a rotation did."""

    key: str
    previous: list[str]
    values: int
    source: str


def _keys(database: Database) -> SecretKeys:
    if database.keys is None:
        raise SecretKeyError(
            "The secret key is not loaded because the database lacks migrations of this "
            "release; apply them with `koppel-admin db upgrade`."
        )
    return database.keys


def status(database: Database) -> KeyStatus:
    """The keys and what the database needs of them (changes nothing)."""
    keys = _keys(database)
    held = keys.keys
    with database.transaction() as uow:
        found = sealed.census(uow.connection)
    ids = {k.id for k in held}
    return KeyStatus(
        source=keys.source.describe(),
        keys=[KeyUse(k.id, i == 0, found.by_key.get(k.id, 0)) for i, k in enumerate(held)],
        plain=found.plain,
        unknown={k: n for k, n in found.by_key.items() if k not in ids},
    )


def rotate(database: Database, policy: Policy, actor: str) -> Rotation:
    """Encrypt every stored secret with a new key (see the module's docstring), audited
    as ``secret_key.rotate``. ``NothingToRotate`` when the variable's first key already
    sealed everything."""
    keys = _keys(database)
    source = keys.source
    with database.transaction() as uow:
        previous = sorted(sealed.census(uow.connection).by_key)
    held = keys.keys
    if source.from_variable:
        if set(previous) <= {held[0].id}:
            raise NothingToRotate(
                f"The keys come from {VARIABLE}, which this command cannot change, and "
                f"every secret is already encrypted with its first key {held[0].id}. Make "
                "a key with `koppel-admin secret-key generate`, put it first in "
                f"{VARIABLE} on every server (the old key after it, comma-separated), "
                "restart them, then run `koppel-admin secret-key rotate` again."
            )
        ring = SecretKeys(source, held)
    else:
        ring = SecretKeys(source, [Key.new(), *held])
        # The file first: should the database step fail, the old key is still in it.
        source.write(ring.keys)
    with database.transaction() as uow:
        changed = sealed.reseal(uow.connection, ring)
        done = Rotation(ring.current.id, previous, changed, source.describe())
        record(uow.core, policy, actor, "secret_key.rotate", None, key=done.key,
               previous=done.previous, values=done.values, source=done.source)  # fmt: skip
    return done
