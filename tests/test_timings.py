"""``KOPPEL_TIMINGS``: the real ``koppel submit`` and ``koppel open`` (subprocesses, the
app served on a port) write where their time went, phase by phase, and the phases add up
to the command's wall time; unset, the command writes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from dossier_support import link
from harness import Server, Workstation


def timed(ws: Workstation, *args: str) -> tuple[float, str]:
    start = time.perf_counter()
    result = ws.ok(*args)
    return time.perf_counter() - start, result.stdout


def check_adds_up(report: dict[str, object], wall: float, phases: list[str]) -> None:
    assert report["origin"] == "process"  # Linux: counted from the process's start
    found = report["phases"]
    assert isinstance(found, dict)
    assert list(found) == [*phases, "exit"], found
    assert all(isinstance(v, float) and v >= 0 for v in found.values())
    total = sum(found.values())
    assert abs(total - float(report["wall_s"])) < 1e-3  # type: ignore[arg-type]
    # From the process's start to its exit handlers: all of the command but the
    # interpreter's own shutdown (and /proc's 10 ms ticks), as measured from outside.
    assert wall * 0.6 - 0.02 <= total <= wall + 0.02, (total, wall, found)


def test_submit_and_open_write_their_phases(
    demo_server: Server, workstation: Callable[..., Workstation], tmp_path: Path
) -> None:
    ws = workstation("anna-laptop", KOPPEL_OPEN_COMMAND="true")
    link(ws, demo_server, "C20001", "anna")
    big = tmp_path / "scan.pdf"
    big.write_bytes(b"%PDF-1.4\n" + b"x" * (3 * 1024 * 1024))

    plain = ws.ok("submit", "--to", "D0001", "--type", "Invoice", "--json", str(big))
    assert not list(tmp_path.glob("*.json"))  # unset: nothing written

    report = tmp_path / "submit.json"
    ws.env["KOPPEL_TIMINGS"] = str(report)
    wall, out = timed(ws, "submit", "--to", "D0001", "--type", "Invoice", "--json", str(big))
    submitted = json.loads(out)["item"]["id"]
    assert json.loads(plain.stdout)["item"]["id"] != submitted
    written = json.loads(report.read_text())
    assert written["command"] == ["submit"]
    expected = ["start-up", "token read", "request", "fsync", "transfer"]
    check_adds_up(written, wall, expected)

    report = tmp_path / "open.json"
    ws.env["KOPPEL_TIMINGS"] = str(report)
    wall, out = timed(ws, "open", str(submitted), "--json")
    assert Path(json.loads(out)["path"]).read_bytes() == big.read_bytes()
    written = json.loads(report.read_text())
    assert written["command"] == ["open"]
    expected = ["start-up", "token read", "request", "transfer", "verify", "fsync", "open"]
    check_adds_up(written, wall, expected)


def test_an_unwritable_timings_file_does_not_fail_the_command(
    demo_server: Server, workstation: Callable[..., Workstation], tmp_path: Path
) -> None:
    ws = workstation("anna-laptop")
    link(ws, demo_server, "C20001", "anna")
    ws.env["KOPPEL_TIMINGS"] = str(tmp_path / "no-such-folder" / "t.json")
    result = ws.ok("items", "--json")
    assert "could not write KOPPEL_TIMINGS" in result.stderr


def test_unset_it_costs_an_import_of_nothing_else() -> None:
    # Imported by every submit and open: unset, it loads nothing beyond itself.
    probe = (
        "import __future__, sys, koppel.agent; before = set(sys.modules); "
        "import koppel.agent.timings as t; t.mark('x'); "
        "print(sorted(set(sys.modules) - before), t.enabled())"
    )
    env = {k: v for k, v in os.environ.items() if k != "KOPPEL_TIMINGS"}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    assert done.stdout.strip() == "['koppel.agent.timings'] False", done.stdout + done.stderr
