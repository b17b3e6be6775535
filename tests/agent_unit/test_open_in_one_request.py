"""``koppel open`` in one request (issue 13): the agent asks the server for the item's
newest (or named) attachment and streams it, without first reading the item's JSON (so
it loads no pydantic: ``test_startup``). Against a server without that route it reads the
item first, as before. The requests are counted where the real server receives them."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from koppel.agent.cli import app

from .live_server import LiveServer

ITEMS = "/api/v1/environments/C20001/items"


def koppel(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def item(tmp_path: Path, server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """C20001 linked, and item 1 of two files: what each holds, by name."""
    # The default program cannot run here: a command that does nothing opens the file.
    monkeypatch.setenv("KOPPEL_OPEN_COMMAND", f"{sys.executable} -c pass")
    settings = tmp_path / "C20001.koppel"
    settings.write_text(json.dumps(server.settings("C20001")))
    assert koppel("link", str(settings)).exit_code == 0
    files = {"receipt.pdf": os.urandom(300_000), "Rapport été.xlsx": os.urandom(5_000)}
    paths = []
    for name, data in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        paths.append(str(path))
    done = koppel("submit", "--to", "D0001", "--type", "Invoice", "--env", "C20001", *paths)
    assert done.exit_code == 0, done.output
    return files


def _open(*args: str) -> dict[str, object]:
    done = koppel("open", "1", "--env", "C20001", "--json", *args)
    assert done.exit_code == 0, done.output
    opened: dict[str, object] = json.loads(done.stdout)
    return opened


def _check(opened: dict[str, object], name: str, data: bytes) -> None:
    path = Path(str(opened["path"]))
    assert opened["attachment"] == name and path.name == name
    assert path.read_bytes() == data and opened["sha256"] == hashlib.sha256(data).hexdigest()
    assert opened["version"] == 1


def test_open_is_one_request(server: LiveServer, item: dict[str, bytes]) -> None:
    server.requests.clear()
    # The newest attachment: both came with the item, the last one submitted wins.
    _check(_open(), "Rapport été.xlsx", item["Rapport été.xlsx"])
    assert server.paths() == [f"{ITEMS}/1/content"]

    server.requests.clear()
    _check(_open("--attachment", "RECEIPT.PDF"), "receipt.pdf", item["receipt.pdf"])
    assert server.paths() == [f"{ITEMS}/1/content?attachment=RECEIPT.PDF"]


def test_an_unknown_name_is_answered_with_the_names_there_are(
    server: LiveServer, item: dict[str, bytes]
) -> None:
    done = koppel("open", "1", "--env", "C20001", "--attachment", "nope.pdf")
    assert done.exit_code == 2, done.output  # a usage error, as before the one request
    assert "receipt.pdf" in done.output and "Rapport été.xlsx" in done.output


def test_a_server_without_the_route_is_asked_for_the_item_first(
    server: LiveServer, item: dict[str, bytes]
) -> None:
    # What an older server does with the route: the app's own answer to a path it lacks.
    current = server.recorder.app

    async def older(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == f"{ITEMS}/1/content":
            scope = dict(scope, path="/api/v1/no-such-route", raw_path=b"/api/v1/no-such-route")
        await current(scope, receive, send)

    server.recorder.app = older
    server.requests.clear()
    _check(_open(), "Rapport été.xlsx", item["Rapport été.xlsx"])
    assert server.paths() == [
        f"{ITEMS}/1/content",
        f"{ITEMS}/1",
        f"{ITEMS}/1/attachments/2/content",
    ]
    _check(_open("-a", "receipt.pdf"), "receipt.pdf", item["receipt.pdf"])
