"""koppel:// links on the workstation: `koppel handler install|status|uninstall` (the
.desktop file and xdg-mime, in an isolated HOME) and `koppel open-link`, which refuses
malformed links and environments not linked here, and otherwise runs the edit of
`koppel edit` on the attachment the portal's "Edit on my computer" button names."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from dossier_support import Api, link
from harness import BIN, Server, Workstation
from koppel.protocol.links import edit_link
from portal_client import Portal

Ws = Callable[..., Workstation]
PROBLEMS, USAGE, NOT_LINKED = 3, 2, 9


def desktop_file(ws: Workstation) -> Path:
    return ws.home / ".local/share/applications/koppel-url.desktop"


def without_xdg_utils(ws: Workstation, tmp_path: Path) -> None:
    """A PATH where xdg-mime does not exist (the agent is run by its full path)."""
    empty = tmp_path / "empty-bin"
    empty.mkdir(exist_ok=True)
    ws.env["PATH"] = str(empty)


def wait_for(what: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("timed out waiting")


def test_install_writes_the_desktop_file_and_says_what_is_missing(
    workstation: Ws, tmp_path: Path
) -> None:
    ws = workstation()
    without_xdg_utils(ws, tmp_path)
    installed = ws.koppel("handler", "install", "--json")
    assert installed.returncode == PROBLEMS, installed.output
    report = installed.json()
    assert report["desktop_file"] == str(desktop_file(ws)) and report["registered"] is False
    assert any("xdg-mime is not installed" in m for m in report["missing"])
    assert "xdg-mime default koppel-url.desktop x-scheme-handler/koppel" in installed.stderr
    lines = desktop_file(ws).read_text().splitlines()
    assert lines[0] == "[Desktop Entry]"
    assert "MimeType=x-scheme-handler/koppel;" in lines and "NoDisplay=true" in lines
    assert "Type=Application" in lines and "Terminal=false" in lines
    assert f"Exec={BIN / 'koppel'} open-link %u" in lines
    assert Path(report["executable"]).is_absolute()

    status = ws.koppel("handler", "status", "--json")
    assert status.returncode == PROBLEMS and status.json()["executable"] == str(BIN / "koppel")

    removed = ws.ok("handler", "uninstall", "--json").json()
    assert not desktop_file(ws).exists() and removed["done"]
    assert ws.koppel("handler", "status").returncode == PROBLEMS


@pytest.mark.skipif(shutil.which("xdg-mime") is None, reason="xdg-utils is not installed here")
def test_install_with_xdg_mime_makes_it_the_default(workstation: Ws) -> None:
    ws = workstation()
    ws.env["PATH"] = str(Path(shutil.which("xdg-mime") or "").parent)
    installed = ws.ok("handler", "install", "--json").json()
    assert installed["registered"] is True and installed["default_handler"] == "koppel-url.desktop"
    mimeapps = (ws.home / ".config/mimeapps.list").read_text()
    assert "x-scheme-handler/koppel=koppel-url.desktop" in mimeapps
    assert ws.ok("handler", "status", "--json").json()["registered"] is True
    ws.ok("handler", "uninstall")
    assert "x-scheme-handler/koppel" not in (ws.home / ".config/mimeapps.list").read_text()
    assert not desktop_file(ws).exists()


def test_open_link_refuses_malformed_and_unlinked_links(
    demo_server: Server, workstation: Ws
) -> None:
    ws = workstation()
    good = edit_link(demo_server.url, "F10001", 1, "letter.txt")
    for bad, words in (
        ("https://example.com/", "not a koppel:// link"),
        ("koppel://delete?server=http%3A%2F%2Fx&env=F10001&item=1", "Unknown link action"),
        ("koppel://edit?server=http%3A%2F%2Fx&env=F10001&item=one", "not an item id"),
        ("koppel://edit?server=file%3A%2F%2F%2Fetc&env=F10001&item=1", "not a server address"),
        ("koppel://edit?env=F10001&item=1", "lacks: server"),
        (good + "&then=rm", "unknown parameters: then"),
        (edit_link(demo_server.url, "F10001", 1, "../../.bashrc"), "not a usable file name"),
    ):
        refused = ws.koppel("open-link", bad)
        assert refused.returncode == USAGE, (bad, refused.output)
        assert words in refused.stderr, (bad, refused.stderr)

    unlinked = ws.koppel("open-link", good)
    assert unlinked.returncode == NOT_LINKED and "not linked on this workstation" in unlinked.stderr

    # Linked, but to this server; a link naming another server is not followed.
    link(ws, demo_server, "F10001", "anna")
    elsewhere = ws.koppel(
        "open-link", edit_link("https://koppel.attacker.example", "F10001", 1), "--json"
    )
    assert elsewhere.returncode == NOT_LINKED
    assert "koppel.attacker.example" in elsewhere.stderr and "was not opened" in elsewhere.stderr
    assert elsewhere.json()["error"]["exit_code"] == NOT_LINKED
    assert ws.ok("edit", "--list", "--json").json() == []


def test_open_link_from_the_portal_starts_the_edit(
    demo_server: Server, workstation: Ws, tmp_path: Path
) -> None:
    demo_server.ok("connector", "unblock", "F10001", "temporary-office-access")
    log = tmp_path / "opened.log"
    script = tmp_path / "opener.py"
    script.write_text(f"import sys\nopen({str(log)!r}, 'a').write(sys.argv[1] + '\\n')\n")
    ws = workstation("anna-laptop", KOPPEL_OPEN_COMMAND=f"{sys.executable} {script}")
    api = Api(demo_server, "F10001", link(ws, demo_server, "F10001", "anna"))
    letter = api.item("Letter", "Correspondence", {"brief aan de bank.txt": b"v1\n"})
    item, attachment = letter["id"], letter["attachments"][0]["id"]

    # The link exactly as the portal's button gives it.
    with Portal(demo_server).signed_in("anna") as anna:
        page = anna.get(anna.path(f"environments/F10001/dossier/items/{item}"))
        (url,) = [unescape(h) for h in re.findall(r'href="(koppel://[^"]+)"', page.text)]

    proc = subprocess.Popen(
        [str(ws.bin / "koppel"), "open-link", url],
        env=ws.env,
        cwd=ws.home,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def watching() -> dict[str, Any] | None:
            assert proc.poll() is None, proc.communicate()
            sessions: list[dict[str, Any]] = ws.ok("edit", "--list", "--json").json()
            return next((s for s in sessions if s["watching"]), None)

        session = wait_for(watching)
        assert (session["environment"], session["item"]) == ("F10001", item)
        work = Path(session["path"])
        assert work.name == "brief aan de bank.txt" and work.read_bytes() == b"v1\n"
        assert wait_for(lambda: log.exists() and log.read_text().split("\n")[0] == str(work))
        work.write_bytes(b"v2 from the link\n")
        finished = ws.koppel("edit", "--finish", str(item), "--env", "F10001")
        _, err = proc.communicate(timeout=60)
        assert finished.returncode == 0, finished.output + "\nthe editing process said:\n" + err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    versions = api.get(f"items/{item}/attachments/{attachment}/versions").json()
    assert [v["number"] for v in versions] == [1, 2]
    saved = api.get(f"items/{item}/attachments/{attachment}/content", params={"version": 2})
    assert saved.content == b"v2 from the link\n"
    assert ws.ok("edit", "--list", "--json").json() == []
