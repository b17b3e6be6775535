"""Benchmark: the server's CPU time per small uploaded file.

A real `koppel-server` with the demo practice and the real `koppel` agent on 127.0.0.1:
`koppel submit` of 200 files of 20 KB in one item; the server's user + system CPU time
(from /proc) over the submit, divided by the number of files. Median of `--repeat` rounds,
each on a fresh server. No target: the figure is reported (issue 13).

    .venv/bin/python bench/server_cpu.py [--repeat 5] [--files 200] [--postgres]

Run it with another checkout's Python (`/work/main/.venv/bin/python bench/server_cpu.py`)
to measure that checkout's server: the programs come from the interpreter's folder.
`--postgres` runs each round on a fresh database of a throwaway PostgreSQL 15 cluster
(tests/postgres.py; its fsync is off, so the figure is the server's CPU, not the disk's);
the PostgreSQL backends' own CPU is not counted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from _procs import Practice, cpu_seconds


class _Practice(Practice):
    """The demo practice, on another database when given its URL."""

    def __init__(self, database_url: str | None) -> None:
        super().__init__()
        self.database_url = database_url

    @property
    def server_env(self) -> dict[str, str]:
        env = super().server_env
        if self.database_url:
            env["KOPPEL_DATABASE_URL"] = self.database_url
        return env


def _round(files: int, database: Callable[[], str] | None) -> tuple[float, float]:
    """One fresh server: (server CPU seconds, wall seconds) of submitting ``files``."""
    practice = _Practice(database() if database is not None else None)
    try:
        practice.start("--demo")
        on_sqlite = (practice.base / "server" / "koppel.sqlite3").exists()
        assert on_sqlite == (practice.database_url is None), "not on the database asked"
        home = practice.home
        bundle = home / "C20001.koppel"
        practice.koppel("settings", "download", "--server", practice.url, "--env", "C20001",
                        "--login", "anna", "-o", str(bundle))  # fmt: skip
        practice.koppel("link", str(bundle))
        small = home / "small"
        small.mkdir()
        for i in range(files):
            (small / f"doc-{i:04}.pdf").write_bytes(os.urandom(20 * 1024))
        names = sorted(str(p) for p in small.iterdir())
        assert practice.server is not None
        time.sleep(1)  # let the start-up settle
        before, start = cpu_seconds(practice.server.pid), time.perf_counter()
        practice.koppel("submit", "--to", "D0001", "--type", "Invoice", "--env", "C20001",
                        "--subject", "batch", *names)  # fmt: skip
        wall = time.perf_counter() - start
        return cpu_seconds(practice.server.pid) - before, wall
    finally:
        practice.stop()
        shutil.rmtree(practice.base, ignore_errors=True)


def main() -> None:
    """Run the rounds and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--postgres", action="store_true")
    options = parser.parse_args()
    cluster = None
    database = None
    if options.postgres:
        sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
        import postgres

        cluster = postgres.start_cluster()
        started = cluster

        def database() -> str:
            return started.create_database(f"bench_{uuid.uuid4().hex[:8]}")

    cpu, wall = [], []
    try:
        for _ in range(options.repeat):
            used, took = _round(options.files, database)
            cpu.append(used / options.files * 1000)
            wall.append(took)
            print(f"  round: {cpu[-1]:.2f} ms server CPU per file, submit {took:.2f} s")
    finally:
        if cluster is not None:
            cluster.stop()
    print(
        f"{options.files} x 20 KB submitted{' (PostgreSQL)' if cluster else ''}: server CPU "
        f"per file, median of {options.repeat}: {statistics.median(cpu):.2f} ms; "
        f"submit {statistics.median(wall):.2f} s"
    )


if __name__ == "__main__":
    main()
