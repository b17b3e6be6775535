"""Shared helpers of the upload and submit tests: a linked workstation and its token."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

from harness import BIN, Server, Workstation

UPDATE = "2026.2"


def tokens_of(ws: Workstation) -> dict[str, str]:
    """The tokens in the workstation's 0600 file store, by environment code."""
    data = json.loads((ws.home / ".local/share/koppel/tokens.json").read_text())
    return {key.split("|")[1]: token for key, token in data["tokens"].items()}


def link(ws: Workstation, server: Server, env: str = "F10001", login: str = "anna") -> str:
    """Link ``env`` on the workstation; its bearer token."""
    ws.ok("link", str(ws.save_settings(server, env, login)))
    return tokens_of(ws)[env]


def auth(token: str) -> dict[str, str]:
    """The headers of an agent request with a token."""
    return {"Authorization": f"Bearer {token}", "Koppel-Update": UPDATE}


def tus(token: str, **extra: str) -> dict[str, str]:
    """Agent headers plus ``Tus-Resumable``."""
    return {**auth(token), "Tus-Resumable": "1.0.0", **extra}


def random_file(path: Path, size: int) -> Path:
    """A file of ``size`` random bytes (written in pieces)."""
    with path.open("wb") as out:
        left = size
        while left:
            piece = min(left, 1 << 20)
            out.write(os.urandom(piece))
            left -= piece
    return path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for piece in iter(lambda: handle.read(1 << 20), b""):
            digest.update(piece)
    return digest.hexdigest()


def upload_rows(server: Server) -> list[dict[str, object]]:
    """The server's upload records (read straight from its SQLite database)."""
    import sqlite3

    with sqlite3.connect(server.data_dir / "koppel.sqlite3") as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute("SELECT * FROM uploads")]


def submit_in_background(
    server: Server, ws: Workstation, sources: list[Path], *, until_uploads: int
) -> subprocess.Popen[str]:
    """Start the real ``koppel submit`` of ``sources`` (to D0001, as Invoice) and return
    once the server holds ``until_uploads`` uploads, the command still running."""
    process = subprocess.Popen(
        [str(BIN / "koppel"), "submit", *map(str, sources), "--to", "D0001", "--type", "Invoice"],
        env=ws.env,
        cwd=ws.home,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while len(upload_rows(server)) < until_uploads:
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.02)
    return process
