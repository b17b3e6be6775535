"""`koppel doctor` against a server that tells a stranger nothing (issue 9, item 3): the
agent asks in batches the server accepts, and a removed environment gets a fix that
says what to do."""

from __future__ import annotations

import json
from pathlib import Path

from koppel.agent.exit_codes import ExitCode
from koppel.agent.local import state
from koppel.protocol.api import MAX_STATUS_QUERIES

from .fake_server import FakeServer
from .test_cli import bundle, fake_practice, koppel, link_all, save

__all__ = ["fake_practice"]  # the fixture, used by name


def test_doctor_asks_in_batches_the_server_accepts(tmp_path: Path, fake: FakeServer) -> None:
    # The stand-in: linking 2,001 environments of the real server would take minutes.
    server = fake
    codes = [f"C{n:05d}" for n in range(MAX_STATUS_QUERIES * 2 + 1)]
    for code in codes:
        server.add(code)
    linked = koppel("link", save(tmp_path, "all.koppel", bundle(server, codes)))
    assert linked.exit_code == 0, linked.output
    server.requests.clear()
    result = koppel("doctor", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["checked"] == len(codes)
    sizes = [len(r.body["environments"]) for r in server.requests]
    assert server.paths() == ["/api/v1/status"] * 3
    assert max(sizes) <= MAX_STATUS_QUERIES and sum(sizes) == len(codes)


def test_doctor_on_an_environment_removed_from_the_server(
    tmp_path: Path, fake_practice: FakeServer
) -> None:
    # The stand-in: the real server never removes an environment.
    practice = fake_practice
    link_all(tmp_path, practice)
    del practice.envs["C20001"]
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
    assert "(token_invalid)" in listed.stdout


def test_unlink_of_a_removed_environment_needs_no_administrator(
    tmp_path: Path, fake_practice: FakeServer
) -> None:
    # The stand-in: the real server never removes an environment.
    practice = fake_practice
    link_all(tmp_path, practice)
    del practice.envs["C20001"]
    result = koppel("unlink", "C20001")
    assert result.exit_code == 0, result.output
    assert "nothing is left to revoke" in result.stderr
    assert "Ask the administrator" not in result.stderr
    assert "C20001" not in state.read().state.environments
