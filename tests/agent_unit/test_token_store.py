"""Token storage: the 0600 file fallback, its one-time warning, the keyring choice."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from koppel.agent.errors import AgentError
from koppel.agent.local.state import State
from koppel.agent.local.token_store import FILE, KEYRING, TokenFile, TokenVault, keyring_problem


@dataclass
class Owner:
    code: str
    api_url: str = "http://127.0.0.1:9"
    login: str = "anna"
    token_store: str = FILE


@pytest.fixture
def no_keychain() -> Iterator[None]:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]
    yield
    keyring.set_keyring(previous)


def test_file_is_created_owner_only_and_read_back(agent_home: Path) -> None:
    vault = TokenVault(State())
    used = vault.put_many([(Owner("C1"), "t1"), (Owner("C2"), "t2")], FILE)
    assert used == {"C1": FILE, "C2": FILE}
    path = agent_home / "tokens.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    fresh = TokenVault(State())
    assert fresh.get_many([Owner("C1"), Owner("C2"), Owner("C3")]) == {
        "C1": "t1",
        "C2": "t2",
        "C3": None,
    }


def test_batch_read_opens_the_file_once(agent_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    TokenVault(State()).put_many([(Owner(f"C{i}"), f"t{i}") for i in range(100)], FILE)
    reads = 0
    original = TokenFile.read

    def counting(self: TokenFile) -> dict[str, str]:
        nonlocal reads
        reads += 1
        return original(self)

    monkeypatch.setattr(TokenFile, "read", counting)
    tokens = TokenVault(State()).get_many([Owner(f"C{i}") for i in range(100)])
    assert reads == 1 and tokens["C42"] == "t42"


def test_loose_permissions_are_repaired_with_a_warning(agent_home: Path) -> None:
    TokenVault(State()).put_many([(Owner("C1"), "t1")], FILE)
    path = agent_home / "tokens.json"
    os.chmod(path, 0o644)
    vault = TokenVault(State())
    assert vault.get(Owner("C1")) == "t1"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert any("0600" in warning for warning in vault.warnings)


def test_delete_removes_only_the_given_tokens(agent_home: Path) -> None:
    vault = TokenVault(State())
    vault.put_many([(Owner("C1"), "t1"), (Owner("C2"), "t2")], FILE)
    vault.delete_many([Owner("C1")])
    assert TokenVault(State()).get_many([Owner("C1"), Owner("C2")]) == {"C1": None, "C2": "t2"}


def test_no_keychain_falls_back_to_the_file_with_one_warning(
    agent_home: Path, monkeypatch: pytest.MonkeyPatch, no_keychain: None
) -> None:
    monkeypatch.setenv("KOPPEL_TOKEN_STORE", "auto")
    assert keyring_problem() is not None
    state = State()
    vault = TokenVault(state)
    assert vault.choose() == FILE
    assert len(vault.warnings) == 1 and "readable only by you" in vault.warnings[0]
    assert state.token_file_warning_shown
    # The state remembers it was shown: the next command stays quiet.
    again = TokenVault(state)
    assert again.choose() == FILE
    assert again.warnings == []


def test_keyring_required_but_missing_is_refused(
    monkeypatch: pytest.MonkeyPatch, no_keychain: None
) -> None:
    monkeypatch.setenv("KOPPEL_TOKEN_STORE", "keyring")
    with pytest.raises(AgentError, match="KOPPEL_TOKEN_STORE=file"):
        TokenVault(State()).choose()


def test_invalid_store_setting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOPPEL_TOKEN_STORE", "vault")
    with pytest.raises(AgentError, match="auto, keyring or file"):
        TokenVault(State()).choose()


def test_keyring_store_round_trip(
    agent_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from keyrings.alt.file import PlaintextKeyring

    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring.cfg")
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    monkeypatch.setenv("KOPPEL_TOKEN_STORE", "keyring")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    try:
        vault = TokenVault(State())
        assert vault.choose() == KEYRING
        owner = Owner("C1", token_store=KEYRING)
        assert vault.put_many([(owner, "secret-token")], KEYRING) == {"C1": KEYRING}
        assert backend.get_password("koppel", "http://127.0.0.1:9|C1|anna") == "secret-token"
        assert TokenVault(State()).get(owner) == "secret-token"
        vault.delete_many([owner])
        assert TokenVault(State()).get(owner) is None
        assert not (agent_home / "tokens.json").exists()
    finally:
        keyring.set_keyring(previous)
