"""The values the database keeps encrypted (``koppel.server.adapters.secret_key``): TOTP
secrets (``second_factors.secret``) and the server's own secrets (``server_secrets``,
the settings-signing key). Which keys they need, encrypting the plain values of an older
database, and encrypting everything again with a new key.

Repositories are made from their transaction's connection; the process's keys travel
with it (``Database.transaction`` attaches them), so no call site hands them on.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from koppel.server.adapters.db.tables import core as t
from koppel.server.adapters.db.tables import portal as tw
from koppel.server.adapters.secret_key import (
    SEALED_PREFIX,
    SecretKeyError,
    SecretKeys,
    is_sealed,
    key_id_of,
)

_KEYS_INFO = "koppel.secret_keys"


def attach(connection: Connection, keys: SecretKeys | None) -> None:
    """Let the repositories of this connection's transaction use ``keys``."""
    connection.info[_KEYS_INFO] = keys


def keys_of(connection: Connection) -> SecretKeys:
    """The keys attached to a connection."""
    keys = connection.info.get(_KEYS_INFO)
    if not isinstance(keys, SecretKeys):
        raise SecretKeyError(
            "The secret key is not loaded because the database lacks migrations of this "
            "release; apply them with `koppel-admin db upgrade`."
        )
    return keys


def totp_purpose(account_id: int) -> str:
    """What a TOTP secret is bound to: its account."""
    return f"totp:{account_id}"


def server_secret_purpose(name: str) -> str:
    """What a server secret is bound to: its name."""
    return f"server-secret:{name}"


def seal_text(connection: Connection, plaintext: str, purpose: str) -> str:
    """A text value as stored."""
    return keys_of(connection).seal(plaintext.encode(), purpose)


def open_text(connection: Connection, stored: str, purpose: str) -> str:
    """A stored text value in the clear (one left plain by an older release as it is,
    until the next start encrypts it)."""
    if not is_sealed(stored):
        return stored
    return keys_of(connection).open(stored, purpose).decode()


def seal_bytes(connection: Connection, plaintext: bytes, purpose: str) -> bytes:
    """A binary value as stored (the sealed text, ASCII)."""
    return keys_of(connection).seal(plaintext, purpose).encode("ascii")


def _sealed_text(stored: bytes) -> str | None:
    # A plain value is 32 random bytes; sealed ones are longer and start with the prefix.
    if len(stored) > 32 and stored.startswith(SEALED_PREFIX.encode()):
        return stored.decode("ascii")
    return None


def open_bytes(connection: Connection, stored: bytes, purpose: str) -> bytes:
    """A stored binary value in the clear (a plain one as it is, see ``open_text``)."""
    text = _sealed_text(stored)
    return stored if text is None else keys_of(connection).open(text, purpose)


@dataclass
class Census:
    """How many stored values each key sealed, and how many are still plain."""

    by_key: Counter[str] = field(default_factory=Counter)
    plain: int = 0


def census(connection: Connection) -> Census:
    """Count the encrypted values by key id (the keys needed to open the database)."""
    found = Census()
    for row in connection.execute(select(tw.second_factors.c.secret)):
        if is_sealed(row.secret):
            found.by_key[key_id_of(row.secret)] += 1
        else:
            found.plain += 1
    for row in connection.execute(select(t.server_secrets.c.value)):
        text = _sealed_text(bytes(row.value))
        if text is None:
            found.plain += 1
        else:
            found.by_key[key_id_of(text)] += 1
    return found


def _rewrite_factors(connection: Connection, keys: SecretKeys, only_plain: bool) -> int:
    current, written = keys.current.id, 0
    f = tw.second_factors
    for row in connection.execute(select(f.c.id, f.c.account_id, f.c.secret)).all():
        was_sealed = is_sealed(row.secret)
        if was_sealed and (only_plain or key_id_of(row.secret) == current):
            continue
        purpose = totp_purpose(row.account_id)
        plaintext = keys.open(row.secret, purpose) if was_sealed else row.secret.encode()
        value = keys.seal(plaintext, purpose)
        connection.execute(update(f).where(f.c.id == row.id).values(secret=value))
        written += 1
    return written


def _rewrite_server_secrets(connection: Connection, keys: SecretKeys, only_plain: bool) -> int:
    current, written = keys.current.id, 0
    s = t.server_secrets
    for row in connection.execute(select(s.c.name, s.c.value)).all():
        text = _sealed_text(bytes(row.value))
        if text is not None and (only_plain or key_id_of(text) == current):
            continue
        purpose = server_secret_purpose(row.name)
        plaintext = keys.open(text, purpose) if text is not None else bytes(row.value)
        stored = keys.seal(plaintext, purpose).encode("ascii")
        connection.execute(update(s).where(s.c.name == row.name).values(value=stored))
        written += 1
    return written


def _rewrite(connection: Connection, keys: SecretKeys, *, only_plain: bool) -> int:
    """Seal values with the current key: the plain ones, or every one not sealed with
    it already. How many were written."""
    return _rewrite_factors(connection, keys, only_plain) + _rewrite_server_secrets(
        connection, keys, only_plain
    )


def seal_plain(connection: Connection, keys: SecretKeys) -> int:
    """Encrypt the values an older release stored in plain text (idempotent); how many."""
    return _rewrite(connection, keys, only_plain=True)


def reseal(connection: Connection, keys: SecretKeys) -> int:
    """Encrypt every value again with the current key (a rotation); how many changed."""
    return _rewrite(connection, keys, only_plain=False)
