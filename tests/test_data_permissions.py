"""The server's data folder is private whatever the umask it is started with: the folder
and every sub-folder 0700, every file in it 0600 (database and its -wal/-shm files,
blobs, unfinished upload parts, generated agent packages, the secret key file), and a
data folder that was looser is tightened at start, saying so in the log once.

(``server.log`` in the data folder is the harness's capture of the server's output,
written by the test, not by the server.)"""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from harness import DEMO_PASSWORD, Server, Workstation, make_server
from uploads_helpers import link, tus

Ws = Callable[..., Workstation]
PART_NAME = "filename " + base64.b64encode(b"part.pdf").decode()


@contextmanager
def umask(mask: int) -> Iterator[None]:
    """This process's umask (inherited by the processes it starts) for a while."""
    before = os.umask(mask)
    try:
        yield
    finally:
        os.umask(before)


def modes(folder: Path) -> dict[str, int]:
    """The permission bits of a folder and of everything beneath it, by relative path."""
    found = {".": stat.S_IMODE(folder.stat().st_mode)}
    for path in folder.rglob("*"):
        found[path.relative_to(folder).as_posix()] = stat.S_IMODE(path.lstat().st_mode)
    return found


@pytest.mark.parametrize("mask", [0o022, 0o000], ids=["umask-022", "umask-000"])
def test_data_folder_and_every_file_are_private(tmp_path: Path, workstation: Ws, mask: int) -> None:
    with umask(mask):
        srv: Server = make_server(tmp_path, process=True)
        # The folder exists already, as loose as the umask makes it (harness mkdir):
        # the server tightens it.
        srv.data_dir.mkdir(parents=True)
        assert stat.S_IMODE(srv.data_dir.stat().st_mode) == 0o777 & ~mask
        srv.start("--demo")
        try:
            ws = workstation()
            token = link(ws, srv, "F10001")
            invoice = ws.home / "invoice.pdf"
            invoice.write_bytes(b"%PDF-1.4 private\n" * 100)
            ws.ok("submit", str(invoice), "--to", "D0001", "--type", "Invoice", "--env", "F10001")
            # An unfinished upload keeps its part on disk.
            created = httpx.post(
                f"{srv.url}/api/v1/environments/F10001/uploads",
                headers=tus(token, **{"Upload-Length": "1000", "Upload-Metadata": PART_NAME}),
            )
            assert created.status_code == 201, created.text
            patched = httpx.patch(
                created.headers["Location"],
                headers=tus(
                    token,
                    **{"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
                ),
                content=b"x" * 100,
            )
            assert patched.status_code == 204, patched.text
            # "Save installation" builds the agent package into the data folder.
            ws.env["KOPPEL_PASSWORD"] = DEMO_PASSWORD
            ws.ok("installation", "download", "--server", srv.url, "--env", "F10001",
                  "--login", "anna", "-o", str(ws.home))  # fmt: skip
            seen = modes(srv.data_dir)
        finally:
            srv.stop()

    seen.pop("server.log")  # the test's own capture of the server's output
    names = set(seen)
    # (-wal and -shm exist only while a connection is open: see the test below.)
    for expected in ("koppel.sqlite3", "secret.key"):
        assert expected in names, sorted(names)
    assert any(n.startswith("blobs/blobs/") and not os.path.isdir(srv.data_dir / n)
               for n in names), sorted(names)  # fmt: skip
    assert any(n.startswith("blobs/partial/") and (srv.data_dir / n).is_file()
               for n in names), sorted(names)  # fmt: skip
    assert any(n.startswith("packages/") and n.endswith(".whl") for n in names), sorted(names)
    loose = {
        name: oct(mode)
        for name, mode in seen.items()
        if mode != (0o700 if (srv.data_dir / name).is_dir() else 0o600)
    }
    assert loose == {}
    log = srv.log.read_text()
    assert log.count("tightened the permissions") == 1, log
    assert str(srv.data_dir) in log


def test_an_already_private_data_folder_is_not_reported(tmp_path: Path) -> None:
    srv = make_server(tmp_path, process=True)
    srv.data_dir.mkdir(mode=0o700)
    srv.data_dir.chmod(0o700)
    srv.start()
    srv.stop()
    srv.start()
    srv.stop()
    assert "tightened the permissions" not in srv.log.read_text()


@pytest.mark.parametrize("mask", [0o022, 0o000])
def test_the_database_and_its_journal_files_are_private(tmp_path: Path, mask: int) -> None:
    from koppel.server.adapters.assembly import create_services
    from koppel.server.config import ServerSettings

    before = os.umask(mask)
    try:
        svc = create_services(ServerSettings(data_dir=tmp_path / "data"))
        with svc.database.engine.connect() as held:  # -wal and -shm exist while it is open
            held.execute(text("SELECT 1"))
            files = sorted((tmp_path / "data").glob("koppel.sqlite3*"))
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in files}
        svc.database.dispose()
    finally:
        os.umask(before)
    assert set(modes) == {"koppel.sqlite3", "koppel.sqlite3-wal", "koppel.sqlite3-shm"}
    assert set(modes.values()) == {0o600}, modes
