"""Benchmark: "Send to Koppel", the time from running ``koppel submit --gui FILE`` to its
window on screen (goal < 1 s on this machine).

Starts a real ``koppel-server`` with the demo practice, links the firm and its clients
(a bundle) with the real agent, then runs ``koppel submit --gui FILE`` several times with
``KOPPEL_BENCH_SHOWN=1``: the window prints ``shown`` from its first show event and
quits, and the time is taken when that line arrives. Qt draws offscreen unless
``QT_QPA_PLATFORM`` says otherwise. The destinations and item types load after the window
is shown (in a background thread), so they are not part of the figure.

    .venv/bin/python bench/gui_start.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time

from _procs import BIN, Practice


def shown_after(practice: Practice, target: str) -> float:
    """Seconds from starting the command to the window's ``shown`` line."""
    env = dict(practice.agent_env, KOPPEL_BENCH_SHOWN="1")
    env.setdefault("QT_QPA_PLATFORM", os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    start = time.perf_counter()
    process = subprocess.Popen(
        [str(BIN / "koppel"), "submit", "--gui", target],
        env=env,
        cwd=practice.home,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    elapsed = time.perf_counter() - start
    process.wait(30)
    if line.strip() != "shown":
        raise SystemExit(f"koppel submit --gui did not show its window (exit {process.returncode})")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    options = parser.parse_args()
    practice = Practice().start("--demo")
    try:
        practice.link_bundle()
        sample = practice.home / "invoice 2026-001.pdf"
        sample.write_bytes(b"%PDF-1.4\n" + b"0" * 100_000)
        first = shown_after(practice, str(sample))  # cold: files not in the page cache
        times = [shown_after(practice, str(sample)) for _ in range(options.runs)]
    finally:
        practice.stop()
    print(f"first run (cold)           {first:6.2f} s")
    print(
        f"median of {options.runs} runs          {statistics.median(times):6.2f} s   (goal < 1 s)"
    )
    print(f"slowest                    {max(times):6.2f} s")


if __name__ == "__main__":
    main()
