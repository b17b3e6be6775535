"""``koppel watch --json`` (one JSON object per line for each event, the same keys in every
language) and the download bar of ``koppel open`` / ``koppel files get`` (on a terminal
only; never with --json or -q), against a real server."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dossier_support import Api, link
from harness import BIN, Server, Workstation
from koppel_process import desktopless

Ws = Callable[..., Workstation]


def _lines(path: Path) -> list[dict[str, Any]]:
    text = path.read_text() if path.exists() else ""
    # Every complete line is one JSON object (JSON Lines).
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _wait(path: Path, wanted: Callable[[list[dict[str, Any]]], bool], log: Path) -> None:
    deadline = time.monotonic() + 30
    while not wanted(_lines(path)):
        assert time.monotonic() < deadline, (path.read_text(), log.read_text())
        time.sleep(0.1)


def test_watch_json_gives_one_object_per_event(
    demo_server: Server, workstation: Ws, tmp_path: Path
) -> None:
    root = tmp_path / "downloads"
    ws = desktopless(workstation("watcher", KOPPEL_DOWNLOADS_DIR=str(root)))
    link(ws, demo_server, "F10001", "anna")
    out, err = tmp_path / "watch.jsonl", tmp_path / "watch.log"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        # In Dutch: the events and their keys are the same in every language.
        process = subprocess.Popen(
            [str(BIN / "koppel"), "watch", "--json"],
            env=dict(ws.env, KOPPEL_LANG="nl"),
            cwd=ws.home,
            stdout=stdout,
            stderr=stderr,
        )
    try:
        _wait(out, lambda lines: any(e["event"] == "connected" for e in lines), err)
        (tmp_path / "report.pdf").write_bytes(b"%PDF report")
        demo_server.ok("files", "publish", "F10001", "anna", str(tmp_path / "report.pdf"), "--json")
        _wait(out, lambda lines: any(e["event"] == "file_received" for e in lines), err)
    finally:
        process.terminate()
        assert process.wait(20) == 0
    events = _lines(out)
    connected = next(e for e in events if e["event"] == "connected")
    assert connected["server"].startswith("http://127.0.0.1:")
    assert connected["environments"] == ["F10001"]
    received = next(e for e in events if e["event"] == "file_received")
    assert set(received) == {"event", "time", "environment", "name", "path"}
    assert received["environment"] == "F10001" and received["name"] == "report.pdf"
    assert Path(received["path"]).read_bytes() == b"%PDF report"
    # The human log went to stderr, not among the JSON lines.
    assert "F10001: report.pdf ontvangen -> " in err.read_text()  # in the language


def _open(ws: Workstation, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    opener = f"{sys.executable} -c pass"  # stands in for the default program
    return subprocess.run(
        [str(BIN / "koppel"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(ws.env, KOPPEL_OPEN_COMMAND=opener, COLUMNS="120", **env),
        cwd=ws.home,
    )


def test_downloads_draw_a_bar_only_when_wanted(
    demo_server: Server, workstation: Ws, tmp_path: Path
) -> None:
    ws = workstation("downloader")
    anna = Api(demo_server, "F10001", link(ws, demo_server, "F10001", "anna"))
    data = b"ledger line\n" * 200_000  # 2.4 MB: several chunks
    item = anna.item("Ledger 2026", "Correspondence", {"ledger.txt": data})
    # KOPPEL_PROGRESS=always stands in for a terminal (stderr is a pipe here).
    shown = _open(ws, "open", str(item["id"]), KOPPEL_PROGRESS="always")
    assert shown.returncode == 0, shown.stderr
    assert "ledger.txt" in shown.stderr and "MB" in shown.stderr  # the bar: name, bytes
    assert Path(shown.stdout.strip()).read_bytes() == data
    for quiet in (["open", str(item["id"]), "--json"], ["-q", "open", str(item["id"])]):
        done = _open(ws, *quiet, KOPPEL_PROGRESS="always")
        assert done.returncode == 0, done.stderr
        assert "MB" not in done.stderr, quiet
    plain = _open(ws, "open", str(item["id"]))  # not a terminal: no bar
    assert plain.returncode == 0 and "MB" not in plain.stderr
    # -v says what is done: each request to the server (its address) and the time taken.
    verbose = _open(ws, "-v", "open", str(item["id"]))
    assert verbose.returncode == 0, verbose.stderr
    assert f"HTTP Request: GET {demo_server.url}" in verbose.stderr
    assert "Done in " in verbose.stderr

    (tmp_path / "big.csv").write_bytes(data)
    published = demo_server.ok(
        "files", "publish", "F10001", "anna", str(tmp_path / "big.csv"), "--json"
    ).json()
    got = _open(
        ws, "files", "get", str(published["id"]), "-o", str(tmp_path / "got"),
        KOPPEL_PROGRESS="always",
    )  # fmt: skip
    assert got.returncode == 0, got.stderr
    assert "big.csv" in got.stderr and "MB" in got.stderr
    assert Path(got.stdout.strip()).read_bytes() == data
