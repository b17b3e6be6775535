"""``koppel edit`` end to end: a real server, the real agent watching a real working copy.

The default program cannot run here: ``KOPPEL_OPEN_COMMAND`` points at a script that only
records the path it was asked to open; the test then edits the working copy itself, as
the user's program would."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from backends import both_backends
from dossier_support import Api, link
from harness import Server, Workstation

Ws = Callable[..., Workstation]
REFUSED = 7


@pytest.fixture
def office(demo_server: Server, workstation: Ws, tmp_path: Path) -> tuple[Workstation, Api, Api]:
    """anna's workstation (with the recording opener), her API and bram's API; the
    firm's temporary-office-access connector open."""
    demo_server.ok("connector", "unblock", "F10001", "temporary-office-access")
    log = tmp_path / "opened.log"
    script = tmp_path / "opener.py"
    script.write_text(f"import sys\nopen({str(log)!r}, 'a').write(sys.argv[1] + '\\n')\n")
    ws = workstation("anna-laptop", KOPPEL_OPEN_COMMAND=f"{sys.executable} {script}")
    a = Api(demo_server, "F10001", link(ws, demo_server, "F10001", "anna"))
    b_ws = workstation("bram-laptop")
    b = Api(demo_server, "F10001", link(b_ws, demo_server, "F10001", "bram"))
    return ws, a, b


def start_edit(ws: Workstation, item: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(ws.bin / "koppel"), "edit", str(item), "--env", "F10001"],
        env=ws.env,
        cwd=ws.home,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(what: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("timed out waiting")


def watching_session(ws: Workstation, proc: subprocess.Popen[str]) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        assert proc.poll() is None, proc.communicate()
        sessions = ws.ok("edit", "--list", "--json").json()
        return next((s for s in sessions if s["watching"]), None)

    session: dict[str, Any] = wait_for(found)
    return session


def versions(api: Api, item: int, attachment: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = api.get(f"items/{item}/attachments/{attachment}/versions").json()
    return found


def content(api: Api, item: int, attachment: int, version: int) -> bytes:
    url = f"items/{item}/attachments/{attachment}/content"
    return api.get(url, params={"version": version}).content


@both_backends
def test_edit_round_trip_and_conflict(office: tuple[Workstation, Api, Api], tmp_path: Path) -> None:
    ws, a, b = office
    letter = a.item("Letter", "Correspondence", {"letter.txt": b"v1 by anna\n"})
    iid, att = letter["id"], letter["attachments"][0]["id"]
    proc = start_edit(ws, iid)
    try:
        session = watching_session(ws, proc)
        work = Path(session["path"])
        assert work.read_bytes() == b"v1 by anna\n" and work.is_relative_to(ws.home)
        # The opener's whole line (the file exists before its line is written).
        opened = tmp_path / "opened.log"
        assert wait_for(lambda: opened.exists() and opened.read_text().endswith("\n"))
        assert (tmp_path / "opened.log").read_text().split() == [str(work)]

        # A save in the "program" becomes version 2.
        work.write_bytes(b"v2 by anna\n")
        wait_for(lambda: len(versions(a, iid, att)) == 2)
        assert content(a, iid, att, 2) == b"v2 by anna\n"

        # bram saves version 3 through the API meanwhile; anna's next save conflicts.
        etag2 = versions(a, iid, att)[1]["etag"]
        assert b.save_version(iid, att, b"v3 by bram\n", etag2).status_code == 201
        work.write_bytes(b"v2 + more by anna\n")
        wait_for(lambda: len(versions(a, iid, att)) == 4)
        chain = versions(a, iid, att)
        assert [v["conflict_of"] for v in chain] == [None, None, None, 3]
        assert content(a, iid, att, 4) == b"v2 + more by anna\n"  # nothing lost
        assert a.get(f"items/{iid}").json()["attachments"][0]["current"]["number"] == 3
        # The working copy continues from the server's newest version.
        wait_for(lambda: work.read_bytes() == b"v3 by bram\n")

        # ... and the next save builds on bram's version without a conflict.
        work.write_bytes(b"v3 by bram\nplus anna\n")
        wait_for(lambda: len(versions(a, iid, att)) == 5)
        assert versions(a, iid, att)[4]["conflict_of"] is None

        # --finish from another terminal saves a last change and stops the watcher.
        work.write_bytes(b"final\n")
        finished = ws.ok("edit", "--finish", str(iid), "--env", "F10001")
        assert "finished" in finished.stderr
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    final = versions(a, iid, att)
    assert content(a, iid, att, final[-1]["number"]) == b"final\n"
    assert "Saved letter.txt as version 2" in err
    assert "CONFLICT" in err and "conflict version 4" in err and "version 3" in err
    assert ws.ok("edit", "--list", "--json").json() == []
    assert not work.exists()


def test_stop_resume_finish_and_discard(office: tuple[Workstation, Api, Api]) -> None:
    ws, a, _ = office
    letter = a.item("Notes", "Correspondence", {"notes.txt": b"one\n"})
    iid, att = letter["id"], letter["attachments"][0]["id"]
    proc = start_edit(ws, iid)
    session = watching_session(ws, proc)
    work = Path(session["path"])
    again = ws.koppel("edit", str(iid), "--env", "F10001")
    assert again.returncode == REFUSED and "already being edited" in again.stderr
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Stopped watching" in err
    listed = ws.ok("edit", "--list", "--json").json()
    assert [(s["item"], s["watching"]) for s in listed] == [(iid, False)]

    # A change made while nobody watched is saved by --finish.
    work.write_bytes(b"two\n")
    assert ws.ok("edit", "--list", "--json").json()[0]["changed_locally"] is True
    ws.ok("edit", "--finish", str(iid), "--env", "F10001")
    assert content(a, iid, att, 2) == b"two\n"
    assert ws.ok("edit", "--list", "--json").json() == []

    # --discard forgets a change and the working copy; the server keeps what it had.
    proc = start_edit(ws, iid)
    try:
        work = Path(watching_session(ws, proc)["path"])
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    work.write_bytes(b"never mind\n")
    ws.ok("edit", "--discard", str(iid), "--env", "F10001")
    assert not work.exists() and ws.ok("edit", "--list", "--json").json() == []
    assert len(versions(a, iid, att)) == 2
    unknown = ws.koppel("edit", "--finish", str(iid), "--env", "F10001")
    assert unknown.returncode == 2 and "not being edited" in unknown.stderr


def test_edit_refusals(
    demo_server: Server, office: tuple[Workstation, Api, Api], tmp_path: Path
) -> None:
    ws, a, _ = office
    invoice = a.item("Invoice", "Invoice", {"inv.txt": b"1"})
    refused = ws.koppel("edit", str(invoice["id"]), "--env", "F10001")
    assert refused.returncode == REFUSED
    assert "cannot be edited" in refused.stderr

    letter = a.item("Letter", "Correspondence", {"l.txt": b"1"})
    demo_server.ok("connector", "block", "F10001", "temporary-office-access")
    blocked = ws.koppel("edit", str(letter["id"]), "--env", "F10001")
    assert blocked.returncode == REFUSED
    assert "temporary-office-access" in blocked.stderr and "blocked" in blocked.stderr
    missing = ws.koppel("edit", "12345", "--env", "F10001")
    assert missing.returncode != 0 and "12345" in missing.stderr
    # Nothing was opened or left behind, and the server kept one version of each.
    assert ws.ok("edit", "--list", "--json").json() == []
    assert not (tmp_path / "opened.log").exists()
    for item in (invoice, letter):
        assert a.get(f"items/{item['id']}").json()["attachments"][0]["versions"] == 1
