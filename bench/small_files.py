"""Many small files: ``koppel submit`` of N x 20 KB (one item) against a real
koppel-server, with the server's CPU time per file (from /proc/PID/stat) and the number
of upload requests the server answered per file (its access log).

Run with the interpreter of the tree to measure (its ``koppel`` and ``koppel-server``):

    .venv/bin/python bench/small_files.py [--files 200] [--rounds 5]

Prints the median wall time of the command and the median server CPU per file.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from _procs import Practice, cpu_seconds


def _tus_requests(log: Path, since: int) -> int:
    """Upload requests (POST/PATCH/HEAD on …/uploads…) in the access log after ``since``."""
    text = log.read_bytes()[since:].decode("utf-8", "replace")
    return sum(
        1
        for line in text.splitlines()
        if "/uploads" in line and any(f'"{m} ' in line for m in ("POST", "PATCH", "HEAD"))
    )


def main() -> None:
    """Submit N small files a few times; print medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()
    # "info" so that the access log lists each request (counted, not timed).
    practice = Practice().start("--demo", "--log-level", "info")
    assert practice.server is not None
    pid = practice.server.pid
    log = practice.base / "server.log"
    try:
        target = practice.home / "C20001.koppel"
        practice.koppel("settings", "download", "--server", practice.url, "--env", "C20001",
                        "--login", "anna", "-o", str(target))  # fmt: skip
        practice.koppel("link", str(target))
        small = practice.home / "small"
        small.mkdir()
        for i in range(options.files):
            (small / f"doc-{i:04}.pdf").write_bytes(os.urandom(20 * 1024))
        names = sorted(str(p) for p in small.iterdir())
        submit = ["submit", "--to", "D0001", "--type", "Invoice", "--env", "C20001"]
        walls, cpus, requests = [], [], []
        for round_ in range(options.rounds):
            since = log.stat().st_size
            cpu = cpu_seconds(pid)
            start = time.perf_counter()
            practice.koppel(*submit, "--subject", f"batch {round_}", *names)
            walls.append(time.perf_counter() - start)
            cpus.append((cpu_seconds(pid) - cpu) / options.files)
            time.sleep(0.3)  # the access log is written after the response
            requests.append(_tus_requests(log, since) / options.files)
        print(f"{options.files} x 20 KB, `koppel submit`, median of {options.rounds}:")
        print(f"  wall time           {statistics.median(walls):.2f} s  ({walls})")
        print(f"  server CPU per file {statistics.median(cpus) * 1000:.2f} ms")
        print(f"  upload requests per file {statistics.median(requests):.2f}")
    finally:
        practice.stop()


if __name__ == "__main__":
    main()
