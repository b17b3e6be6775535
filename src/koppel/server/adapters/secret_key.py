"""The server's secret key: it encrypts the secrets the database must keep readable
(TOTP secrets, the key that signs settings files), so that a copy of the database alone
reveals none of them.

The key is kept outside the database: in ``KOPPEL_SECRET_KEY`` (several replicas, a
PostgreSQL deployment) or else in a key file beside the data (``<data dir>/secret.key``,
0600, created on first start). Either holds one or more keys ``kpsk_<base64url of 32
bytes>``; the first encrypts, every one decrypts, so that a rotation can put a new key
first while values sealed with the old one still open. A stored value names its key:

    kpenc1:<key id>:<base64url(12-byte nonce + AES-256-GCM ciphertext and tag)>

The key id is the first 8 hex digits of SHA-256 over the key. The associated data binds
a value to its place (``totp:<account id>``, ``server-secret:<name>``): moved to another
row it no longer opens.

A missing or wrong key is a ``SecretKeyError`` whose message names the variable and the
file; a new key is made only when the database holds nothing encrypted yet, never in
place of a lost one (that would lose every second factor).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import logging
import os
import secrets
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from koppel.server.adapters.private_files import open_private

log = logging.getLogger(__name__)

VARIABLE = "KOPPEL_SECRET_KEY"
FILE_NAME = "secret.key"
KEY_PREFIX = "kpsk_"
SEALED_PREFIX = "kpenc1:"
_KEY_BYTES = 32
_NONCE_BYTES = 12
_FILE_HEADER = """\
# Koppel secret key: it encrypts the TOTP secrets and the settings-signing key that
# the database keeps. Back this file up apart from the database; without it every
# two-step verification must be reset and settings files not yet linked saved again.
# One key per line: the first encrypts, the others (older keys) only decrypt.
"""


class SecretKeyError(Exception):
    """The secret key is missing, malformed or not the one the database needs. The
    message says which variable or file, and what to do."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Key:
    """One 256-bit key."""

    material: bytes

    @property
    def id(self) -> str:
        """8 hex digits naming the key (in stored values, messages and the audit log)."""
        return hashlib.sha256(self.material).hexdigest()[:8]

    @property
    def text(self) -> str:
        """The key as written in the key file or the variable."""
        return KEY_PREFIX + _b64(self.material)

    @classmethod
    def new(cls) -> Key:
        """A fresh random key."""
        return cls(secrets.token_bytes(_KEY_BYTES))


def parse_keys(text: str, origin: str) -> list[Key]:
    """The keys in a key file or the variable (separated by commas, spaces or lines;
    ``#`` starts a comment), first the one that encrypts. ``origin`` names where they
    came from in the error."""
    keys: list[Key] = []
    for line in text.splitlines():
        for word in line.split("#", 1)[0].replace(",", " ").split():
            try:
                material = _unb64(word.removeprefix(KEY_PREFIX))
            except (binascii.Error, ValueError):
                material = b""
            if not word.startswith(KEY_PREFIX) or len(material) != _KEY_BYTES:
                raise SecretKeyError(
                    f"{origin} holds something that is not a Koppel secret key "
                    f"({KEY_PREFIX}... of {_KEY_BYTES} bytes). Restore it from your backup "
                    "(`koppel-admin secret-key generate` makes a new key for a new server)."
                )
            if Key(material) not in keys:
                keys.append(Key(material))
    if not keys:
        raise SecretKeyError(f"{origin} holds no key. Restore it from your backup.")
    return keys


def is_sealed(value: str) -> bool:
    """Whether a stored value is encrypted (older databases kept them in plain text)."""
    return value.startswith(SEALED_PREFIX)


def key_id_of(value: str) -> str:
    """The id of the key that sealed ``value``."""
    return value[len(SEALED_PREFIX) :].split(":", 1)[0]


def seal_with(key: Key, plaintext: bytes, purpose: str) -> str:
    """``plaintext`` encrypted with ``key`` for ``purpose`` (the associated data)."""
    nonce = secrets.token_bytes(_NONCE_BYTES)
    sealed = AESGCM(key.material).encrypt(nonce, plaintext, purpose.encode())
    return f"{SEALED_PREFIX}{key.id}:{_b64(nonce + sealed)}"


@dataclass(frozen=True)
class KeySource:
    """Where this server's keys are: the variable when it is set, else the key file."""

    file: Path
    variable: str | None = None  # the value of KOPPEL_SECRET_KEY, when set

    @property
    def from_variable(self) -> bool:
        """Whether the keys come from ``KOPPEL_SECRET_KEY``."""
        return self.variable is not None

    def describe(self) -> str:
        """Where the keys are, for messages."""
        return VARIABLE if self.from_variable else f"the key file {self.file}"

    def read(self) -> list[Key] | None:
        """The keys, or None when there are none at all (no variable, no file)."""
        if self.variable is not None:
            return parse_keys(self.variable, VARIABLE)
        try:
            text = self.file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SecretKeyError(
                f"Cannot read the key file {self.file} ({exc.strerror}). Give this server's "
                f"OS user access to it, or set {VARIABLE}."
            ) from exc
        return parse_keys(text, f"The key file {self.file}")

    def write(self, keys: Sequence[Key]) -> None:
        """Replace the key file (0600, never seen half-written) with ``keys``."""
        if self.from_variable:
            raise SecretKeyError(f"The keys come from {VARIABLE}, which Koppel cannot change.")
        temporary = self.file.with_name(f".{self.file.name}.{secrets.token_hex(4)}.tmp")
        fd = open_private(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(_FILE_HEADER + "".join(f"{k.text}\n" for k in keys))
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.file)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()

    def stamp(self) -> tuple[int, int, int] | None:
        """What changes when the key file is replaced (None: no file, or the variable)."""
        if self.from_variable:
            return None
        try:
            found = self.file.stat()
        except OSError:
            return None
        return (found.st_ino, found.st_mtime_ns, found.st_size)


class SecretKeys:
    """The keys of this process. Values are sealed with the first and opened with the
    one they name. When the key file is replaced (``koppel-admin secret-key rotate``
    while the server runs) it is read again, so the new key is used at once."""

    def __init__(self, source: KeySource, keys: Sequence[Key]) -> None:
        self.source = source
        self._keys = list(keys)
        self._stamp = source.stamp()
        self._lock = threading.Lock()

    @property
    def keys(self) -> list[Key]:
        """Every key, the one that encrypts first."""
        self._refresh()
        return list(self._keys)

    @property
    def current(self) -> Key:
        """The key that encrypts."""
        return self.keys[0]

    def _refresh(self) -> None:
        stamp = self.source.stamp()
        if stamp is None or stamp == self._stamp:
            return
        with self._lock:
            if stamp == self._stamp:
                return
            try:
                found = self.source.read()
            except SecretKeyError as exc:
                # A file half-edited by hand: keep working with the keys in memory.
                log.warning("%s; the keys read at start stay in use", exc)
                found = None
            if found:
                self._keys = found
            self._stamp = stamp

    def seal(self, plaintext: bytes, purpose: str) -> str:
        """``plaintext`` encrypted with the current key, bound to ``purpose``."""
        return seal_with(self.current, plaintext, purpose)

    def open(self, value: str, purpose: str) -> bytes:
        """The plaintext of a sealed value."""
        wanted = key_id_of(value)
        key = next((k for k in self.keys if k.id == wanted), None)
        if key is None:
            raise SecretKeyError(self._lacks({wanted}))
        try:
            data = _unb64(value[len(SEALED_PREFIX) + len(wanted) + 1 :])
            return AESGCM(key.material).decrypt(
                data[:_NONCE_BYTES], data[_NONCE_BYTES:], purpose.encode()
            )
        except (InvalidTag, binascii.Error, ValueError) as exc:
            raise SecretKeyError(
                f"A stored secret ({purpose}) does not decrypt with key {wanted}: the "
                "database was altered. Restore it from a backup."
            ) from exc

    def _lacks(self, wanted: Iterable[str]) -> str:
        return lacking_message(self.source, sorted(wanted), [k.id for k in self._keys])


def lacking_message(source: KeySource, wanted: Sequence[str], held: Sequence[str]) -> str:
    """Why the keys of ``source`` cannot open the database, and what to do."""
    ids = ", ".join(wanted)
    fix = (
        f"Set {VARIABLE} to the key with that id (keep it after a new key during a "
        f"rotation), or unset {VARIABLE} to use the key file {source.file}."
        if source.from_variable
        else f"Put the key with that id back into {source.file} from your backup, or set "
        f"{VARIABLE} to it."
    )
    return (
        f"The database's secrets are encrypted with key {ids}, which {source.describe()} "
        f"does not hold (it holds {', '.join(held) or 'no key'}). {fix} Never replace it "
        "with a new key: every two-step verification would be lost."
    )


def open_keys(source: KeySource, in_use: Iterable[str]) -> SecretKeys:
    """The keys to run with, checked against the key ids the database's values name.

    With no key anywhere, a key file is created only when the database holds nothing
    encrypted yet (a new server, or an older database whose plain values are about to
    be encrypted); otherwise the error says where the key must come from."""
    wanted = sorted(set(in_use))
    keys = source.read()
    if keys is None:
        if wanted:
            raise SecretKeyError(
                f"The database's secrets are encrypted with key {', '.join(wanted)}, but "
                f"there is no key: {source.file} does not exist and {VARIABLE} is not set. "
                f"Restore the key file from your backup (or set {VARIABLE} to the key). "
                "Never make a new one: without the old key every two-step verification "
                "must be reset and settings files not yet linked saved again."
            )
        keys = [Key.new()]
        source.write(keys)
        log.warning(
            "created the secret key %s in %s: back it up apart from the database "
            "(see docs/secret-key.md)",
            keys[0].id,
            source.file,
        )
    missing = [w for w in wanted if w not in {k.id for k in keys}]
    if missing:
        raise SecretKeyError(lacking_message(source, missing, [k.id for k in keys]))
    return SecretKeys(source, keys)
