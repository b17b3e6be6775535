"""Allowed file extensions (issue 9, item 10) with the real executables: ``koppel-admin
extensions`` against a running server's data folder (the live server follows at once),
and ``koppel submit`` refusing a file type before any byte, a mixed submission as a
whole, and a queued submission the server later refuses, which ends refused."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness import Server, Workstation
from test_submit import items_of, queue_files, submit
from uploads_helpers import link, random_file, tus, upload_rows

Ws = Callable[..., Workstation]
FILE_REFUSED, QUEUED = 10, 11
EXIT_REFUSED, EXIT_NOT_FOUND = 5, 4


def _create(server: Server, token: str, name: str) -> httpx.Response:
    meta = "filename " + base64.b64encode(name.encode()).decode()
    return httpx.post(
        f"{server.url}/api/v1/environments/F10001/uploads",
        headers=tus(token, **{"Upload-Length": "10", "Upload-Metadata": meta}),
    )


def _audit_actions(server: Server) -> list[tuple[str, str, Any]]:
    entries = server.ok("audit", "--env", "F10001", "--limit", "1000", "--json").json()["entries"]
    return [
        (e["action"], e["actor"], e["detail"])
        for e in reversed(entries)
        if e["action"].startswith("extensions")
    ]


def test_koppel_admin_extensions_changes_what_the_live_server_accepts(
    demo_server: Server, workstation: Ws
) -> None:
    server = demo_server
    token = link(workstation("laptop"), server)
    listed = server.ok("extensions", "list", "F10001", "--json").json()
    assert listed["environment"] == "F10001" and listed["default"] is True
    assert {"pdf", "docx", "xlsx", "eml", "zip"} <= set(listed["extensions"])
    assert not {"exe", "js", "html"} & set(listed["extensions"]) and listed["risky"] == []
    assert _create(server, token, "ledger.qif").status_code == 415

    allowed = server.ok("extensions", "allow", "F10001", ".QIF", "mt940", "--json").json()
    assert allowed["changed"] is True
    assert allowed["outcomes"][0]["message"] == "now allowed in F10001: .mt940, .qif."
    again = server.ok("extensions", "allow", "F10001", "qif", "--json").json()
    assert again["changed"] is False  # idempotent: nothing changed, nothing audited
    assert _create(server, token, "ledger.qif").status_code == 201  # the running server

    removed = server.ok("extensions", "remove", "F10001", "pdf")
    assert "no longer allowed in F10001: .pdf" in removed.stdout
    refused = _create(server, token, "invoice.PDF")
    assert refused.status_code == 415 and refused.json()["code"] == "extension_not_allowed"
    assert "pdf" not in refused.json()["allowed_extensions"]

    risky = server.ok("extensions", "allow", "F10001", "exe")
    assert "Warning: .exe can run programs" in risky.stdout
    shown = server.ok("extensions", "list", "F10001")
    assert ".qif" in shown.stdout and ".pdf" not in shown.stdout
    assert "runs code when opened" in shown.stdout
    now = server.ok("extensions", "list", "F10001", "--json").json()
    assert now["default"] is False and now["risky"] == ["exe"]

    # Bad input changes nothing: one line, a distinct exit code.
    for args, code in [
        (("allow", "F10001", "tar.gz"), EXIT_REFUSED),
        (("allow", "F10001", "ok", "a/b"), EXIT_REFUSED),
        (("allow", "X99999", "qif"), EXIT_NOT_FOUND),
    ]:
        bad = server.admin("extensions", *args)
        assert bad.returncode == code, bad.output
        assert bad.stderr.startswith("error: ") and bad.stderr.count("\n") == 1, bad.stderr
    assert server.ok("extensions", "list", "F10001", "--json").json() == now

    assert _audit_actions(server) == [
        ("extensions.allow", "cli:test-admin", {"extensions": ["mt940", "qif"]}),
        ("extensions.remove", "cli:test-admin", {"extensions": ["pdf"]}),
        ("extensions.allow", "cli:test-admin", {"extensions": ["exe"]}),
    ]
    reset = server.ok("extensions", "reset", "F10001", "--json").json()
    assert reset["outcomes"][0]["message"] == "F10001 uses the default extensions again"
    assert server.ok("extensions", "list", "F10001", "--json").json() == listed
    assert _create(server, token, "invoice.pdf").status_code == 201
    assert _create(server, token, "setup.exe").status_code == 415
    assert server.ok("extensions", "reset", "F10001", "--json").json()["changed"] is False


@pytest.fixture
def anna(demo_server: Server, workstation: Ws) -> tuple[Server, Workstation, str]:
    ws = workstation("laptop")
    return demo_server, ws, link(ws, demo_server)


def test_submit_refuses_a_type_not_accepted_before_any_byte(
    anna: tuple[Server, Workstation, str], tmp_path: Path
) -> None:
    server, ws, token = anna
    program = random_file(tmp_path / "setup.exe", 5000)
    result = submit(ws, str(program))
    assert result.returncode == FILE_REFUSED, result.output
    assert result.json()["error"]["code"] == "extension_not_allowed"
    line = result.stderr.strip()
    assert "\n" not in line, result.stderr
    assert "'setup.exe' cannot be submitted to F10001" in line and ".exe files" in line
    assert "accepted: .7z, .bmp, .csv," in line and "Nothing was sent" in line
    assert "koppel-admin extensions allow F10001 exe" in line
    assert upload_rows(server) == [] and queue_files(ws) == []

    # One refused file refuses the whole submission: nothing of the others is sent.
    good = random_file(tmp_path / "invoice.pdf", 300_000)
    script = random_file(tmp_path / "Run.JS", 100)
    bare = random_file(tmp_path / "notes", 100)
    mixed = submit(ws, str(good), str(script), str(bare))
    assert mixed.returncode == FILE_REFUSED, mixed.output
    line = mixed.stderr.strip()
    assert "\n" not in line and "'Run.JS', 'notes' cannot be submitted" in line
    assert ".js files, files without an extension are not accepted" in line
    assert "extensions allow F10001 js ." in line
    assert upload_rows(server) == [] and queue_files(ws) == [] and items_of(server, token) == []

    # Once the administrator allows the type, the same files go through.
    server.ok("extensions", "allow", "F10001", "js", ".")
    sent = submit(ws, str(good), str(script), str(bare))
    assert sent.returncode == 0, sent.output
    (item,) = items_of(server, token)
    assert [a["name"] for a in item["attachments"]] == ["invoice.pdf", "Run.JS", "notes"]


def test_a_queued_submission_refused_for_its_type_ends_refused(
    anna: tuple[Server, Workstation, str], tmp_path: Path
) -> None:
    server, ws, token = anna
    macro = random_file(tmp_path / "macro.vbs", 2000)
    server.stop()
    queued = submit(ws, str(macro))  # offline: the type cannot be checked yet
    assert queued.returncode == QUEUED, queued.output
    server.start()

    sent = ws.koppel("queue", "send", "--json")
    assert sent.returncode == FILE_REFUSED, sent.output
    (result,) = sent.json()
    assert result["state"] == "failed" and result["code"] == "extension_not_allowed"
    assert upload_rows(server) == []  # refused before any byte
    (listed,) = ws.ok("queue", "--json").json()
    assert listed["state"] == "failed" and listed["error"]["code"] == "extension_not_allowed"
    assert "'macro.vbs' cannot be submitted to F10001" in listed["error"]["message"]
    human = ws.ok("queue")
    assert "failed" in human.stdout and "macro.vbs" in human.stdout + human.stderr

    # Never retried on its own: the next submission does not send it again.
    later = submit(ws, str(random_file(tmp_path / "later.pdf", 1000)))
    assert later.returncode == 0, later.output
    assert later.json()["earlier"] == []
    assert [i["attachments"][0]["name"] for i in items_of(server, token)] == ["later.pdf"]
    assert [s["state"] for s in ws.ok("queue", "--json").json()] == ["failed"]
    assert upload_rows(server) != [] and all(
        row["filename"] == "later.pdf" for row in upload_rows(server)
    )
