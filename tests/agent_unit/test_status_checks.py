"""`koppel doctor` against a server that tells a stranger nothing (issue 9, item 3): the
agent asks in batches the server accepts, and a removed environment gets a fix that
says what to do."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from koppel.agent.exit_codes import ExitCode
from koppel.agent.local import state
from koppel.agent.local.token_store import FILE, TokenVault
from koppel.protocol.api import MAX_STATUS_QUERIES

from .live_server import LiveServer
from .test_cli import koppel, link_all, practice

__all__ = ["practice"]  # the fixture, used by name


def forget_on_server(code: str) -> None:
    """Give this workstation's link to ``code`` a token the server never issued: the
    server then answers as for an environment it removed (it tells the two apart to
    no one who holds no valid token)."""
    loaded = state.read().state
    env = loaded.environments[code]
    TokenVault(loaded).put_many([(env, "kplt_000000000000000000_unknown")], FILE)


def test_doctor_asks_in_batches_the_server_accepts(tmp_path: Path, practice: LiveServer) -> None:
    link_all(tmp_path, practice)
    # More links than two requests take: copies of C20001 under codes the server does not
    # know (it answers for each, token_invalid) fill the state without 2,001 environments.
    codes = [f"C{n:05d}" for n in range(MAX_STATUS_QUERIES * 2 + 1 - 4)]
    with state.locked() as loaded:
        model = loaded.state.environments["C20001"]
        extra = [dataclasses.replace(model, code=code) for code in codes]
        loaded.state.environments.update({env.code: env for env in extra})
    TokenVault(state.read().state).put_many([(env, f"kplt_x_{env.code}") for env in extra], FILE)
    practice.requests.clear()
    result = koppel("doctor", "--json")
    assert result.exit_code == ExitCode.PROBLEMS, result.output
    checked = json.loads(result.stdout)
    assert checked["checked"] == MAX_STATUS_QUERIES * 2 + 1
    assert checked["problems"] == len(codes)
    sizes = [len(r.body["environments"]) for r in practice.requests]
    assert practice.paths() == ["/api/v1/status"] * 3
    assert max(sizes) <= MAX_STATUS_QUERIES and sum(sizes) == MAX_STATUS_QUERIES * 2 + 1


def test_doctor_on_an_environment_removed_from_the_server(
    tmp_path: Path, practice: LiveServer
) -> None:
    link_all(tmp_path, practice)
    forget_on_server("C20001")
    result = koppel("doctor", "--json")
    assert result.exit_code == ExitCode.PROBLEMS
    by_env = {e["environment"]: e for e in json.loads(result.stdout)["environments"]}
    removed = by_env["C20001"]
    assert removed["state"] == "token_invalid"
    assert "was removed" in removed["message"]
    assert "koppel unlink C20001" in removed["fix"] and "koppel link FILE" in removed["fix"]
    assert state.read().state.environments["C20001"].last_state == "token_invalid"
    assert {by_env[c]["state"] for c in ("F10001", "C20002", "C20003")} == {"ok"}
    listed = koppel("envs")
    assert "(token not valid)" in listed.stdout  # the state in words; --json keeps the code


def test_unlink_of_a_removed_environment_needs_no_administrator(
    tmp_path: Path, practice: LiveServer
) -> None:
    link_all(tmp_path, practice)
    forget_on_server("C20001")
    result = koppel("unlink", "C20001")
    assert result.exit_code == 0, result.output
    assert "nothing is left to revoke" in result.stderr
    assert "Ask the administrator" not in result.stderr
    assert "C20001" not in state.read().state.environments
