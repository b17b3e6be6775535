"""Every request the agent makes says the user's language (``Accept-Language``), so that
the server's refusals come back in it; the real server records what it received."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from koppel.agent.api.language import accept_language
from koppel.agent.cli import app
from koppel.i18n import set_process_language

from .live_server import LiveServer


def koppel(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def dutch() -> Iterator[None]:
    """The agent speaks Dutch, as with ``KOPPEL_LANG=nl`` (in process: set once)."""
    set_process_language("nl")
    yield
    set_process_language(None)


def test_the_header_names_the_language_with_english_as_fallback() -> None:
    assert accept_language("nl") == "nl, en;q=0.5"
    assert accept_language("fr") == "fr, en;q=0.5"
    assert accept_language("en") == "en"


def test_every_request_of_the_agent_carries_its_language(
    tmp_path: Path, server: LiveServer, monkeypatch: pytest.MonkeyPatch, dutch: None
) -> None:
    monkeypatch.setenv("KOPPEL_OPEN_COMMAND", f"{sys.executable} -c pass")
    firm, clients = tmp_path / "F10001.koppel", tmp_path / "clients.koppel"
    firm.write_text(json.dumps(server.settings("F10001")))
    clients.write_text(json.dumps(server.bundle()))
    document = tmp_path / "receipt.pdf"
    document.write_bytes(b"%PDF-1.4 receipt")
    # Linking, listing, checking, the dossier (submit, list, download), My files, a
    # refusal, an unlink and a fresh settings file: the agent's routes of every kind.
    commands = [
        ("link", str(firm), str(clients)),
        ("info", "C20001"),
        ("doctor",),
        ("submit", "--to", "D0001", "--type", "Invoice", "--env", "C20001", str(document)),
        ("items", "--env", "C20001"),
        ("open", "1", "--env", "C20001"),
        ("files", "--env", "C20001"),
        ("update", "check"),
        ("unlink", "C20002"),
    ]
    for args in commands:
        done = koppel(*args)
        assert done.exit_code in (0, 13), (args, done.output)
    assert koppel("info", "C20002").exit_code != 0  # unlinked: refused locally, no request
    refused = koppel("link", str(firm))  # already used: the server refuses in Dutch
    assert refused.exit_code == 8

    received = server.requests
    routes = {(r.method, r.path.split("?")[0]) for r in received}
    assert len(routes) >= 10, routes  # the commands above really talked to the server
    missing = [(r.method, r.path) for r in received if "Accept-Language" not in r.headers]
    assert not missing
    assert {r.headers["Accept-Language"] for r in received} == {"nl, en;q=0.5"}


def test_in_english_the_agent_asks_for_english(tmp_path: Path, server: LiveServer) -> None:
    settings = tmp_path / "C20001.koppel"
    settings.write_text(json.dumps(server.settings("C20001")))
    assert koppel("link", str(settings)).exit_code == 0
    assert {r.headers["Accept-Language"] for r in server.requests} == {"en"}
