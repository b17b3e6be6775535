"""Integrations deliver into My files with an API key of their own, never a user's
password; one key per integration and environment, revocable, named in the audit log.
The real app in process (the CLI is exercised in test_files.py)."""

from __future__ import annotations

import httpx
import pytest

from app_client import InProcess
from koppel.server.domain import integrations
from koppel.server.domain.errors import DomainError

PUSH = "/api/v1/environments/{env}/users/{login}/files"


def new_key(app: InProcess, env: str, name: str) -> str:
    with app.transaction() as uow:
        key, _ = integrations.create(
            uow.core, uow.integration_keys, app.svc.policy, "cli:test", env, name
        )
    return key


def push(
    app: InProcess, key: str | None, env: str = "C20001", login: str = "bram"
) -> httpx.Response:
    headers = {"Koppel-Filename": "loonstrook.pdf", "Content-Type": "application/pdf"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return app.client().post(PUSH.format(env=env, login=login), content=b"%PDF", headers=headers)


def test_a_key_delivers_to_any_user_of_its_environment_only(demo_app: InProcess) -> None:
    key = new_key(demo_app, "C20001", "payroll")
    for login in ("anna", "bram"):
        answer = push(demo_app, key, login=login)
        assert answer.status_code == 201, answer.text
    with demo_app.transaction() as uow:
        entries = uow.core.audit_entries(action="file.push", limit=10)
    assert sorted((e.actor, e.environment, e.detail["user"]) for e in entries) == [
        ("integration:payroll", "C20001", "anna"),
        ("integration:payroll", "C20001", "bram"),
    ]
    # Another environment, a made-up key, a key with a wrong secret, no key: one answer.
    tampered = key[:-4] + ("aaaa" if not key.endswith("aaaa") else "bbbb")
    answers = [
        push(demo_app, key, env="C20002"),
        push(demo_app, "kpli_0123456789abcdef01_" + "x" * 43, env="C20002"),
        push(demo_app, tampered, env="C20002"),
        push(demo_app, None, env="C20002"),
        push(demo_app, key, env="C99999"),
    ]
    bodies = [(a.status_code, a.json()["code"]) for a in answers]
    assert set(bodies) == {(401, "token_invalid")}
    messages = {a.json()["message"].replace("C99999", "C20002") for a in answers}
    assert len(messages) == 1


def test_names_are_unique_among_active_keys_and_revoking_is_final(demo_app: InProcess) -> None:
    key = new_key(demo_app, "C20001", "scanner")
    with pytest.raises(DomainError, match="already has an active key"):
        new_key(demo_app, "C20001", "Scanner")
    new_key(demo_app, "C20002", "scanner")  # another environment is another key
    with demo_app.transaction() as uow:
        store = uow.integration_keys
        changed, revoked = integrations.revoke(
            uow.core, store, demo_app.svc.policy, "cli:test", "C20001", "scanner"
        )
        again, _ = integrations.revoke(
            uow.core, store, demo_app.svc.policy, "cli:test", "C20001", revoked.public_id
        )
    assert changed and not again
    assert push(demo_app, key).status_code == 401
    replacement = new_key(demo_app, "C20001", "scanner")
    assert push(demo_app, replacement).status_code == 201
    with pytest.raises(DomainError, match="not a valid integration name"):
        new_key(demo_app, "C20001", "../etc")
