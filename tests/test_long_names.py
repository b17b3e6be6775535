"""Long names end to end (issue 9, item 4): real server, real `koppel` CLI.

The server accepts file names up to 255 bytes of UTF-8; the agent must place them (and
its temporary names) within the file system's limit, keep the extension, shorten an
environment's folder name by bytes, and never let one file it cannot place stop the
others: `files get`/`open` end with one line and exit 12, `watch` reports and skips it
and places it once the cause is gone."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from dossier_support import Api, link
from harness import Server, Workstation
from koppel_process import desktopless
from test_watch import Watcher, publish, received, wait_files

Ws = Callable[..., Workstation]
LONG = "é" * 125 + ".txt"  # 254 bytes of UTF-8: the server accepts it
CANNOT_SAVE = 12


def size(name: str) -> int:
    return len(name.encode())


def get(ws: Workstation, file_id: int, *extra: str) -> Path:
    return Path(ws.ok("files", "get", str(file_id), "--env", "F10001", *extra).stdout.strip())


def test_files_get_places_long_names_with_their_extension(
    demo_server: Server, workstation: Ws, tmp_path: Path
) -> None:
    srv = demo_server
    root = tmp_path / "downloads"
    ws = workstation("laptop", KOPPEL_DOWNLOADS_DIR=str(root))
    link(ws, srv, "F10001", "anna")
    source = tmp_path / LONG
    source.write_bytes(b"long name")
    first = publish(srv, "F10001", "anna", source)
    placed = get(ws, first)
    assert placed.name == LONG and placed.read_bytes() == b"long name"

    # The same name again: " (2)" must fit too, so the stem gives way, not the extension.
    second = publish(srv, "F10001", "anna", source)
    again = get(ws, second)
    assert again.parent == placed.parent and again.read_bytes() == b"long name"
    assert again.name.endswith(" (2).txt") and size(again.name) <= 255, again.name

    # Into a folder of the user's choice as well.
    chosen = tmp_path / "chosen"
    chosen.mkdir()
    assert get(ws, first, "-o", str(chosen)).name == LONG

    # 240 characters: the name is kept whole, extension included.
    wide = tmp_path / ("a" * 236 + ".pdf")
    wide.write_bytes(b"%PDF wide")
    kept = get(ws, publish(srv, "F10001", "anna", wide))
    assert kept.name == wide.name and kept.read_bytes() == b"%PDF wide"
    leftovers = [p for p in root.rglob("*") if p.name.startswith(".")]
    assert leftovers == []


def test_open_places_a_long_attachment_name(
    demo_server: Server, workstation: Ws, tmp_path: Path
) -> None:
    srv = demo_server
    opened_log = tmp_path / "opened.txt"
    ws = workstation("laptop", KOPPEL_OPEN_COMMAND=f"sh -c 'echo \"$0\" >> {opened_log}'")
    api = Api(srv, "F10001", link(ws, srv, "F10001", "anna"))
    item = api.item("Long name", "Correspondence", {LONG: b"attached"})
    result = ws.ok("open", str(item["id"]), "--env", "F10001", "--json")
    path = Path(result.json()["path"])
    assert path.name == LONG and path.read_bytes() == b"attached"
    deadline = time.monotonic() + 10
    # Until the opener's line is written whole (the shell creates the file first).
    while not (opened_log.exists() and opened_log.read_text().endswith("\n")):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert opened_log.read_text().strip() == str(path)
    assert [p.name for p in path.parent.iterdir()] == [LONG]


def test_an_environment_with_a_long_name_gets_a_folder(
    demo_server: Server, workstation: Ws, tmp_path: Path
) -> None:
    srv = demo_server
    srv.ok("env", "set", "F10001", "--name", "é" * 150)
    root = tmp_path / "downloads"
    ws = workstation("laptop", KOPPEL_DOWNLOADS_DIR=str(root))
    link(ws, srv, "F10001", "anna")
    (tmp_path / "a.pdf").write_bytes(b"%PDF a")
    placed = get(ws, publish(srv, "F10001", "anna", tmp_path / "a.pdf"))
    assert placed.name == "a.pdf" and placed.parent.parent == root
    folder = placed.parent.name
    assert set(folder) == {"é"} and size(folder) <= 255, folder


def test_a_file_that_cannot_be_saved_is_one_line_and_exit_12(
    demo_server: Server, workstation: Ws, tmp_path: Path
) -> None:
    srv = demo_server
    root = tmp_path / "downloads"
    root.mkdir()
    # Something that is not a folder where the environment's folder belongs.
    (root / "Dekker & Co Accountants").write_text("in the way")
    ws = workstation("laptop", KOPPEL_DOWNLOADS_DIR=str(root))
    token = link(ws, srv, "F10001", "anna")
    (tmp_path / "a.pdf").write_bytes(b"%PDF a")
    file_id = publish(srv, "F10001", "anna", tmp_path / "a.pdf")
    result = ws.koppel("files", "get", str(file_id), "--env", "F10001")
    assert result.returncode == CANNOT_SAVE, result.output
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.output
    assert "a.pdf" in result.stderr and "Dekker & Co Accountants" in result.stderr
    assert result.stdout == ""

    # The same for `koppel open` when the attachment cannot be written.
    api = Api(srv, "F10001", token)
    item = api.item("Blocked", "Correspondence", {"b.txt": b"b"})
    blocked = ws.home / ".local/share/koppel/opened/F10001"
    blocked.parent.mkdir(parents=True, exist_ok=True)
    blocked.write_text("in the way")
    opened = ws.koppel("open", str(item["id"]), "--env", "F10001")
    assert opened.returncode == CANNOT_SAVE, opened.output
    assert len(opened.stderr.splitlines()) == 1 and "Traceback" not in opened.output
    assert "b.txt" in opened.stderr


def test_watch_places_long_names_and_skips_what_it_cannot_place(
    demo_server: Server, workstation: Ws, tmp_path: Path
) -> None:
    srv = demo_server
    root = tmp_path / "downloads"
    root.mkdir()
    blocker = root / "Bakkerij Jansen"
    blocker.write_text("in the way")
    ws = desktopless(workstation("laptop", KOPPEL_DOWNLOADS_DIR=str(root)))
    ws.ok("link", str(ws.save_settings(srv, "F10001", "anna")))
    ws.ok("link", str(ws.save_settings(srv, "F10001", "anna", bundle=True)))
    source = tmp_path / LONG
    source.write_bytes(b"long name")
    (tmp_path / "c.txt").write_text("for C20001")
    (tmp_path / "d.txt").write_text("for C20002")

    watcher = Watcher(ws, tmp_path / "watch.log")
    try:
        watcher.start()
        watcher.wait_for("following 4 environments on one connection")
        publish(srv, "F10001", "anna", source)
        publish(srv, "C20001", "anna", tmp_path / "c.txt")  # cannot be placed
        publish(srv, "C20002", "anna", tmp_path / "d.txt")
        publish(srv, "F10001", "anna", source)  # after the one that fails
        # Three placed (c.txt cannot be) beside the blocker.
        found = wait_files(watcher, root, 3)
        names = {p.relative_to(root).as_posix() for p in found}
        assert f"Dekker & Co Accountants/{LONG}" in names, names
        assert "Garage Visser/d.txt" in names
        assert any(n.startswith("Dekker & Co Accountants/") and "(2).txt" in n for n in names)
        watcher.wait_for("C20001: could not save c.txt")
        watcher.wait_for("notification: Koppel: Bakkerij Jansen: c.txt could not be saved")
        assert "connection lost" not in watcher.text() and "Traceback" not in watcher.text()

        # Once the cause is gone, the file is placed without a restart.
        blocker.unlink()
        deadline = time.monotonic() + 40
        while not (root / "Bakkerij Jansen" / "c.txt").exists():
            assert time.monotonic() < deadline, watcher.text()
            time.sleep(0.2)
        assert (root / "Bakkerij Jansen" / "c.txt").read_text() == "for C20001"
        watcher.wait_for("C20001: received c.txt")
    finally:
        watcher.stop()
    assert len(received(root)) == 4
    assert not [p for p in root.rglob("*") if p.name.startswith(".")]
