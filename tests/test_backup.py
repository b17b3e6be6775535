"""Backups of a whole host: ``koppel-admin backup`` while a ``koppel-server`` process
serves and takes uploads, the data folder wiped, ``koppel-admin restore``, and every
link, item and download as before; a damaged backup is refused with nothing restored."""

from __future__ import annotations

import hashlib
import json
import shlex
import shutil
import subprocess
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

import postgres
from dossier_support import Api, link
from harness import BIN, Result, Server, Workstation, make_server, run
from terminal import at_terminal

Ws = Callable[..., Workstation]


def _admin(server: Server, data_dir: Path, *args: str) -> Result:
    """``koppel-admin`` against another data folder than the server's."""
    return run([str(BIN / "koppel-admin"), "--data-dir", str(data_dir), *args], server.env,
               data_dir.parent)  # fmt: skip


def test_backup_while_serving_then_restore_keeps_every_link(
    tmp_path: Path, workstation: Ws
) -> None:
    srv = make_server(tmp_path, process=True).start("--demo")
    try:
        ws = workstation()
        ws.env["KOPPEL_OPEN_COMMAND"] = "true"  # no desktop here: the opener does nothing
        token = link(ws, srv, "F10001", "anna")
        anna = Api(srv, "F10001", token)
        letter = b"Dear sir,\n" * 5000
        before = anna.item("Letter to the bank", "Correspondence", {"letter.txt": letter})
        # Uploads go on while the backup runs: what the copy names, it holds.
        stop, made = threading.Event(), []

        def keep_uploading() -> None:
            while not stop.is_set():
                made.append(anna.item(f"Scan {len(made)}", "Invoice", {"s.pdf": b"%PDF" * 40000}))

        uploader = threading.Thread(target=keep_uploading)
        uploader.start()
        try:
            dest = tmp_path / "backup-1"
            done = srv.ok("backup", str(dest), "--json").json()
        finally:
            stop.set()
            uploader.join()
        assert made, "no upload ran during the backup"
        assert done["database_included"] and done["secret_key_included"] is False
        assert "NOT in this backup" in done["notes"][-1]
        info = json.loads((dest / "backup.json").read_text())
        assert info["revision"] == done["revision"] and info["counts"]["items"] >= 1
        assert not (tmp_path / "backup-1.partial").exists()
        # The manifest checks with sha256sum's own format too.
        sums = (dest / "blobs.sha256").read_text().splitlines()
        assert len(sums) == done["blobs"] >= 2
        for line in sums:
            digest, name = line.split("  ", 1)
            assert hashlib.sha256((dest / name).read_bytes()).hexdigest() == digest

        # A data folder that holds a database is refused, and says how to go on.
        refused = srv.admin("restore", str(dest))
        assert refused.returncode == 5 and "move the folder away" in refused.stderr
        again = srv.admin("backup", str(dest))
        assert again.returncode == 5 and "not empty" in again.stderr
    finally:
        srv.stop()

    # The host is lost; the key file was kept apart (as docs/secret-key.md says).
    key = (srv.data_dir / "secret.key").read_bytes()
    shutil.rmtree(srv.data_dir)
    srv.data_dir.mkdir(mode=0o700)  # the new, empty data folder
    without_key = srv.admin("restore", str(dest))
    assert without_key.returncode == 4 and "secret.key" in without_key.stderr
    assert not (srv.data_dir / "koppel.sqlite3").exists()
    (srv.data_dir / "secret.key").write_bytes(key)
    restored = srv.ok("restore", str(dest), "--json").json()
    assert restored["blobs"] == done["blobs"]

    srv.start()
    try:
        assert [e["code"] for e in ws.ok("envs", "--json").json()] == ["F10001"]
        listed = ws.ok("items", "--env", "F10001", "--json").json()
        assert listed["total"] == info["counts"]["items"]
        letters = ws.ok("items", "--env", "F10001", "--text", "bank", "--json").json()
        assert [i["id"] for i in letters["items"]] == [before["id"]]
        opened = ws.ok("open", str(before["id"]), "--env", "F10001", "--json").json()
        assert Path(opened["path"]).read_bytes() == letter
        # The items of the backup download (the newest page of them).
        for item in listed["items"]:
            content = anna.get(f"items/{item['id']}/content")
            assert content.status_code == 200, content.text
            assert content.content == (letter if item["id"] == before["id"] else b"%PDF" * 40000)
        ws.ok("submit", str(_file(ws, "after.pdf")), "--to", "D0001", "--type", "Invoice",
              "--env", "F10001")  # fmt: skip
    finally:
        srv.stop()


def _file(ws: Workstation, name: str) -> Path:
    path = ws.home / name
    path.write_bytes(b"%PDF-1.4 after the restore\n")
    return path


def test_a_damaged_backup_is_refused_and_nothing_restored(
    demo_server: Server, workstation: Ws, tmp_path: Path
) -> None:
    srv = demo_server
    ws = workstation()
    anna = Api(srv, "F10001", link(ws, srv, "F10001", "anna"))
    anna.item("One", "Invoice", {"one.pdf": b"%PDF one"})
    anna.item("Two", "Invoice", {"two.pdf": b"%PDF two"})
    dest = tmp_path / "backup"
    srv.ok("backup", str(dest), "--include-secret-key")
    # Readable by the server's user only, as the data folder (the key file too).
    assert [p.name for p in [dest, *dest.rglob("*")] if p.stat().st_mode & 0o077] == []
    # At a terminal it shows how far it is.
    admin = str(BIN / "koppel-admin")
    shown = at_terminal([admin, "backup", str(tmp_path / "at-terminal")], srv.env,
                        srv.data_dir, prompt="copied 2 of 2 files", keys=b"")  # fmt: skip
    assert shown.returncode == 0 and "NOT in this backup" in shown.screen, shown.screen

    blob = next(p for p in (dest / "blobs").rglob("*") if p.is_file())
    blob.unlink()  # a hard link: write a new file rather than change the live content
    blob.write_bytes(b"%PDF tampered")
    target = tmp_path / "new-host"
    refused = _admin(srv, target, "restore", str(dest), "--json")
    assert refused.returncode == 5, refused.output
    assert refused.json()["error"]["code"] == "backup_damaged"
    assert "differs from its manifest" in refused.stderr
    left = sorted(p.relative_to(target).as_posix() for p in target.rglob("*")) if (
        target.exists()) else []  # fmt: skip
    assert not [p for p in left if p.endswith("sqlite3") or p.startswith("blobs/blobs/")], left

    # The untouched backup restores onto the empty folder with the key it carries.
    fresh = tmp_path / "backup-2"
    srv.ok("backup", str(fresh), "--include-secret-key")
    done = _admin(srv, target, "restore", str(fresh))
    assert done.returncode == 0, done.output
    assert "backup's secret key was written" in done.stdout
    assert _keys(target / "secret.key") == _keys(srv.data_dir / "secret.key")


def test_a_damaged_database_in_a_backup_is_refused_and_nothing_restored(
    demo_server: Server, tmp_path: Path
) -> None:
    srv = demo_server
    dest = tmp_path / "backup"
    srv.ok("backup", str(dest), "--include-secret-key")
    database = dest / "koppel.sqlite3"
    whole = database.read_bytes()
    # One byte changed where SQLite would not notice (the last page), then a truncation.
    for damaged in (whole[:-100] + bytes([whole[-100] ^ 0xFF]) + whole[-99:], whole[:4096]):
        database.write_bytes(damaged)
        target = tmp_path / f"new-host-{len(damaged)}"
        refused = _admin(srv, target, "restore", str(dest), "--json")
        assert refused.returncode == 5, refused.output
        assert refused.json()["error"]["code"] == "backup_damaged"
        assert "the backup is damaged" in refused.stderr and "another backup" in refused.stderr
        assert not (target / "koppel.sqlite3").exists()
    database.write_bytes(whole)
    assert _admin(srv, tmp_path / "new-host", "restore", str(dest)).returncode == 0


def _keys(path: Path) -> list[str]:
    return [word for word in path.read_text().split() if word.startswith("kpsk_")]


def test_a_backup_is_all_or_nothing(demo_server: Server, tmp_path: Path) -> None:
    # A leftover of a killed run is replaced; a file in the way is refused.
    dest = tmp_path / "b"
    (tmp_path / "b.partial").mkdir()
    (tmp_path / "b.partial" / ".koppel-partial").touch()
    assert demo_server.ok("backup", str(dest)).returncode == 0
    # A backup of a newer release is refused, with the release it needs.
    info = json.loads((dest / "backup.json").read_text())
    (dest / "backup.json").write_text(
        json.dumps({**info, "revision": "0999", "release": "2099.1.0"})
    )
    newer = _admin(demo_server, tmp_path / "old-host", "restore", str(dest))
    assert newer.returncode == 5 and "Koppel 2099.1.0" in newer.stderr, newer.output
    assert not (tmp_path / "old-host" / "koppel.sqlite3").exists()
    (tmp_path / "c.partial").mkdir()
    refused = demo_server.admin("backup", str(tmp_path / "c"))
    assert refused.returncode == 5 and "not made by Koppel" in refused.stderr
    assert not (tmp_path / "c").exists()
    # A folder that is not a backup is refused with what it is.
    (tmp_path / "empty").mkdir()
    lost = _admin(demo_server, tmp_path / "host", "restore", str(tmp_path / "empty"))
    assert lost.returncode == 4 and "not a backup" in lost.stderr


@pytest.mark.postgres
def test_on_postgresql_pg_dump_and_the_copied_contents_restore_the_host(
    tmp_path: Path, workstation: Ws, postgres_cluster: postgres.Cluster
) -> None:
    url = postgres_cluster.create_database(f"koppel_{uuid.uuid4().hex[:8]}")
    srv = make_server(tmp_path, database_url=url).start("--demo")
    try:
        ws = workstation()
        anna = Api(srv, "F10001", link(ws, srv, "F10001", "anna"))
        item = anna.item("Letter", "Correspondence", {"letter.txt": b"Dear sir,\n" * 900})
        dest = tmp_path / "pg-backup"
        done = srv.ok("backup", str(dest), "--json").json()
    finally:
        srv.stop()
    assert done["database"] == "postgresql" and not done["database_included"]
    assert "NOT in this folder" in done["notes"][0] and done["blobs"] == 1
    # The command it names is the one to run (here after the backup: nothing changed).
    command = shlex.split(done["pg_dump"])
    assert command[0] == "pg_dump" and "+psycopg" not in done["pg_dump"]
    subprocess.run(command, check=True, capture_output=True)
    # A restore of a backup without its database says what to do instead.
    refused = _admin(srv, tmp_path / "empty-host", "restore", str(dest))
    assert refused.returncode == 5 and "pg_restore" in refused.stderr

    new_url = postgres_cluster.create_database(f"koppel_{uuid.uuid4().hex[:8]}")
    plain = new_url.replace("+psycopg", "")
    subprocess.run(["pg_restore", "--no-owner", f"--dbname={plain}", f"{dest}.pgdump"],
                   check=True, capture_output=True)  # fmt: skip
    moved = make_server(tmp_path, database_url=new_url, process=True)
    moved.move_to(srv.port)  # the host's address is in its data
    (moved.data_dir / "blobs" / "blobs").mkdir(parents=True)
    shutil.copy(srv.data_dir / "secret.key", moved.data_dir / "secret.key")
    shutil.copytree(dest / "blobs", moved.data_dir / "blobs" / "blobs", dirs_exist_ok=True)
    checked = subprocess.run(["sha256sum", "-c", "--quiet", "blobs.sha256"], cwd=dest)
    assert checked.returncode == 0
    moved.start()
    try:
        assert ws.ok("items", "--env", "F10001", "--json").json()["total"] == 1
        content = anna.get(f"items/{item['id']}/content")
        assert content.content == b"Dear sir,\n" * 900
    finally:
        moved.stop()
