"""Where user tokens live: the OS keychain through keyring, or a file only the user can read.

``KOPPEL_TOKEN_STORE`` chooses: ``auto`` (default: the keychain when a real one exists, the
file otherwise), ``keyring`` or ``file``. The store used is recorded per environment in the
state, so reading a file-stored token never imports keyring. The first time the file is
used the user is warned once (remembered in the state).
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from koppel.agent.errors import AgentError
from koppel.agent.local import paths
from koppel.agent.local.atomic import atomic_write_bytes
from koppel.agent.local.state import State
from koppel.i18n import gettext as _

STORE_ENV = "KOPPEL_TOKEN_STORE"
KEYRING = "keyring"
FILE = "file"
KEYRING_SERVICE = "koppel"
_FILE_FORMAT = 1


class TokenOwner(Protocol):
    """What identifies a token: the server, the environment and the user."""

    @property
    def api_url(self) -> str: ...
    @property
    def code(self) -> str: ...
    @property
    def login(self) -> str: ...


def token_key(owner: TokenOwner) -> str:
    """The keychain user name (and file key) of a token: ``api_url|code|login``."""
    return f"{owner.api_url}|{owner.code}|{owner.login}"


class TokenFile:
    """The fallback store: one JSON file created with mode 0600 (read and written whole)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.tokens_file()
        self.repaired = False  # True when read() had to tighten loose permissions

    def read(self) -> dict[str, str]:
        """All tokens in the file; tightens its mode to 0600 when others could read it."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return {}
        with os.fdopen(fd, "rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            if stat.S_IMODE(mode) & 0o077:
                # Someone loosened it: make it private again before trusting it further.
                os.fchmod(handle.fileno(), 0o600)
                self.repaired = True
            raw = handle.read()
        try:
            data = json.loads(raw)
            tokens = data["tokens"]
            if not isinstance(tokens, dict):
                raise TypeError("tokens is not an object")
        except (ValueError, KeyError, TypeError) as exc:
            raise AgentError(
                _(
                    "The token file {path} is damaged. Move it away and link your "
                    "environments again with `koppel link FILE`."
                ).format(path=self.path)
            ) from exc
        return {str(key): str(value) for key, value in tokens.items()}

    def write(self, tokens: dict[str, str]) -> None:
        """Replace the file atomically; the temporary file is created 0600 from the start."""
        data = json.dumps({"format": _FILE_FORMAT, "tokens": tokens}, indent=1).encode()
        atomic_write_bytes(self.path, data, mode=0o600)


def keyring_problem() -> str | None:
    """Why the OS keychain cannot be used here, or None when it can."""
    try:
        import keyring
        from keyring.backends import chainer, fail

        backend: Any = keyring.get_keyring()
    except Exception as exc:  # any import or configuration failure means "no keychain"
        return _("keyring failed to load ({reason})").format(reason=exc)
    if isinstance(backend, fail.Keyring):
        return _("no keychain backend is available")
    if isinstance(backend, chainer.ChainerBackend) and not list(backend.backends):
        return _("no keychain backend is available")
    if type(backend).__module__.startswith("keyrings.alt") and not os.environ.get(
        "PYTHON_KEYRING_BACKEND"
    ):
        # keyrings.alt's file backends are a plaintext (or password-prompting) file: our
        # own 0600 file is no worse and never prompts. Used only when chosen explicitly.
        return _("only a file-based keyring (keyrings.alt) is available")
    return None


def wanted_store() -> str:
    """The store setting from ``KOPPEL_TOKEN_STORE``: auto, keyring or file."""
    value = os.environ.get(STORE_ENV, "auto").strip().lower() or "auto"
    if value not in ("auto", KEYRING, FILE):
        raise AgentError(
            _("{variable}={value} is not valid; use auto, keyring or file.").format(
                variable=STORE_ENV, value=repr(value)
            )
        )
    return value


@dataclass
class TokenVault:
    """Batch access to the tokens of many environments, whichever store holds each."""

    state: State
    file: TokenFile = field(default_factory=TokenFile)
    warnings: list[str] = field(default_factory=list)
    _file_tokens: dict[str, str] | None = None

    def _file(self) -> dict[str, str]:
        if self._file_tokens is None:
            self._file_tokens = self.file.read()
            if self.file.repaired:
                self.warnings.append(
                    _(
                        "{path} could be read by other users; its permissions were set back "
                        "to owner-only (0600)."
                    ).format(path=self.file.path)
                )
        return self._file_tokens

    def get_many(self, owners: Iterable[Any]) -> dict[str, str | None]:
        """Tokens by environment code (None when lost); reads the token file at most once."""
        result: dict[str, str | None] = {}
        for owner in owners:
            if getattr(owner, "token_store", FILE) == KEYRING:
                result[owner.code] = self._keyring_get(owner)
            else:
                result[owner.code] = self._file().get(token_key(owner))
        return result

    def get(self, owner: Any) -> str | None:
        """The token of one environment, or None when the store has lost it."""
        return self.get_many([owner])[owner.code]

    def choose(self) -> str:
        """The store new tokens go to, per ``KOPPEL_TOKEN_STORE`` and the keychain found."""
        wanted = wanted_store()
        if wanted == FILE:
            return FILE
        problem = keyring_problem()
        if problem is None:
            return KEYRING
        if wanted == KEYRING:
            raise AgentError(
                _(
                    "{variable}=keyring but {problem}. Install a keychain backend, or set "
                    "{variable}=file to keep tokens in a file only you can read."
                ).format(variable=STORE_ENV, problem=problem)
            )
        self._warn_file(problem)
        return FILE

    def put_many(self, items: list[tuple[Any, str]], store: str) -> dict[str, str]:
        """Store tokens; returns the store used per code (the file when the keychain fails)."""
        used: dict[str, str] = {}
        pending_file: list[tuple[Any, str]] = []
        for owner, token in items:
            if store == KEYRING and self._keyring_set(owner, token):
                used[owner.code] = KEYRING
            else:
                pending_file.append((owner, token))
        if pending_file:
            if store == KEYRING:
                self._warn_file(_("the keychain refused to store the tokens"))
            tokens = dict(self._file())
            for owner, token in pending_file:
                tokens[token_key(owner)] = token
                used[owner.code] = FILE
            self.file.write(tokens)
            self._file_tokens = tokens
        return used

    def delete_many(self, owners: Iterable[Any]) -> None:
        """Forget the tokens of these environments (missing ones are fine)."""
        file_keys: list[str] = []
        for owner in owners:
            if getattr(owner, "token_store", FILE) == KEYRING:
                self._keyring_delete(owner)
            else:
                file_keys.append(token_key(owner))
        if file_keys:
            tokens = dict(self._file())
            if any(key in tokens for key in file_keys):
                for key in file_keys:
                    tokens.pop(key, None)
                self.file.write(tokens)
                self._file_tokens = tokens

    def _warn_file(self, problem: str) -> None:
        if self.state.token_file_warning_shown:
            return
        self.state.token_file_warning_shown = True
        self.warnings.append(
            _(
                "No OS keychain is usable ({problem}); tokens are kept in {path}, readable only "
                "by you. Protect this account, or install a keychain backend."
            ).format(problem=problem, path=self.file.path)
        )

    @staticmethod
    def _keyring_get(owner: Any) -> str | None:
        try:
            import keyring

            value: str | None = keyring.get_password(KEYRING_SERVICE, token_key(owner))
        except Exception:  # a locked or broken keychain reads as a lost token
            return None
        return value

    @staticmethod
    def _keyring_set(owner: Any, token: str) -> bool:
        try:
            import keyring

            keyring.set_password(KEYRING_SERVICE, token_key(owner), token)
        except Exception:  # fall back to the file rather than lose a fresh token
            return False
        return True

    @staticmethod
    def _keyring_delete(owner: Any) -> None:
        try:
            import keyring

            keyring.delete_password(KEYRING_SERVICE, token_key(owner))
        except Exception:  # already gone, or the keychain is unavailable: nothing to do
            pass
