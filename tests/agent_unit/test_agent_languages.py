"""The agent's own messages in Dutch and French (as with ``KOPPEL_LANG``): the words
change, the states, error codes and exit codes do not. Real server, in-process CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from koppel.agent.cli import app
from koppel.agent.exit_codes import ExitCode
from koppel.i18n import set_process_language

from .live_server import LiveServer


def koppel(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


@pytest.fixture(params=["nl", "fr"])
def language(request: pytest.FixtureRequest) -> Iterator[str]:
    """The agent speaks this language for the test (set once per process, as at start)."""
    set_process_language(request.param)
    yield str(request.param)
    set_process_language(None)


NOT_LINKED = {
    "nl": "C29999 is niet gekoppeld op deze werkplek.",
    "fr": "C29999 n'est pas lié sur ce poste de travail.",
}
REVOKED = {  # doctor's fix for a revoked link
    "nl": "de toegang tot F10001 is ingetrokken door de beheerder",
    "fr": "l'accès à F10001 a été retiré par son administrateur",
}
BLOCKED = {
    "nl": "vraag de beheerder van C20001 de app-connector van Communication Center te deblokkeren",
    "fr": "demandez à l'administrateur de C20001 de débloquer l'app de connexion",
}


def test_a_command_on_an_environment_not_linked(language: str) -> None:
    result = koppel("info", "C29999", "--json")
    assert result.exit_code == ExitCode.NOT_LINKED
    assert NOT_LINKED[language] in result.stderr
    assert json.loads(result.stdout)["error"]["code"] == "not_linked"


def test_doctor_says_each_fix_in_the_language_and_keeps_the_states(
    tmp_path: Path, server: LiveServer, language: str
) -> None:
    firm, clients = tmp_path / "F10001.koppel", tmp_path / "clients.koppel"
    firm.write_text(json.dumps(server.settings("F10001")))
    clients.write_text(json.dumps(server.bundle()))
    assert koppel("link", str(firm), str(clients)).exit_code == 0
    server.admin("connector", "block", "C20001")
    server.admin("tokens", "revoke", "F10001", "--all-tokens")

    result = koppel("doctor", "--json")
    assert result.exit_code == ExitCode.PROBLEMS
    by_env = {e["environment"]: e for e in json.loads(result.stdout)["environments"]}
    assert by_env["C20001"]["state"] == "connector_blocked"
    assert BLOCKED[language] in by_env["C20001"]["fix"]
    assert by_env["F10001"]["state"] == "token_revoked"
    assert REVOKED[language] in by_env["F10001"]["fix"]
    assert "koppel link" in by_env["F10001"]["fix"]  # commands stay as they are typed
