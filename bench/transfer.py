"""Benchmark: every figure of Koppel's speed, against rclone on the same loopback, in one run.

Everything runs on 127.0.0.1 against a real `koppel-server` with the demo practice, the
real `koppel` agent, and `rclone serve webdav` (Debian package `rclone`). Paired
measurements are interleaved rounds (this shared 2-core machine's speed drifts by 2x from
minute to minute); medians count. Printed, each against its target:

- start-up (bench/startup.py): `koppel --version` within 40 ms and `koppel envs` within
  120 ms of `python -c pass`;
- 75 MB (bench/breakdown.py): the whole `koppel submit` within 1.6x `rclone copyto` up,
  the whole `koppel open` within 2x `rclone copyto` down, each with where its time went
  (start-up, token read, request, transfer, verify, fsync); the agent's own code in this
  process within 1.25x (up) and 1.1x (down, sha256 verified) of rclone minus its start-up;
- 1,000 files of 20 KB submitted (five `koppel submit` of 200) within 0.5x
  `rclone copy` (4 transfers, as Koppel), and the server's CPU per file;
- the server's memory growth during a 75 MB submit (< 64 MB), from an analysis job
  finishing to its file in Downloads through `koppel watch` (p95 < 1 s), and `koppel
  watch` with 1,000 linked environments idle (< 1 % CPU, one connection).

    .venv/bin/python bench/transfer.py [--quick] [--repeat 5] [--small 1000] ...

`--quick` runs fewer and smaller rounds, in under two minutes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import threading
import time
from datetime import datetime
from pathlib import Path

import httpx

import breakdown
import startup
import watch
from _procs import BIN, Practice, cpu_seconds, rclone_server, rss_bytes, timed
from koppel.protocol.sizes import format_size

MB = 1024 * 1024
BIG = format_size(75 * MB)  # as Windows Explorer shows the file: 75.0 MB
SMALL_TARGET = 0.5


class _PeakMemory(threading.Thread):
    """Samples a process's resident memory until stopped; keeps the peak."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.running = pid, rss_bytes(pid), True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, rss_bytes(self.pid))
            time.sleep(0.01)


def _job_to_file_latencies(practice: Practice, runs: int) -> list[float]:
    """Request analyses one after another; time from ready_at to the file in Downloads."""
    headers = {"Authorization": f"Bearer {practice.token('C20001')}", "Koppel-Update": "2026.2"}
    api = f"{practice.url}/api/v1/environments/C20001"
    folder = practice.home / "Downloads" / "Bakkerij Jansen"
    log = (practice.base / "watch-latency.log").open("wb")
    watcher = subprocess.Popen(
        [str(BIN / "koppel"), "watch"],
        env=practice.agent_env,
        cwd=practice.home,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    latencies = []
    try:
        time.sleep(3)  # let it connect
        for _ in range(runs):
            before = set(folder.glob("*")) if folder.exists() else set()
            answer = httpx.post(f"{api}/analyses", headers=headers, json={}, timeout=10)
            answer.raise_for_status()
            file_id = answer.json()["file_id"]
            deadline = time.time() + 30
            arrived = None
            while time.time() < deadline:
                new = (
                    [p for p in folder.glob("*.xlsx") if p not in before] if folder.exists() else []
                )
                if new:
                    arrived = time.time()
                    break
                time.sleep(0.002)
            if arrived is None:
                raise SystemExit("an analysis did not arrive within 30 s")
            files = httpx.get(f"{api}/files", headers=headers, timeout=10).json()["files"]
            ready = next(f["ready_at"] for f in files if f["id"] == file_id)
            ready_at = datetime.fromisoformat(ready.replace("Z", "+00:00")).timestamp()
            latencies.append(arrived - ready_at)
    finally:
        watcher.terminate()
        watcher.wait(20)
        log.close()
    return latencies


def _memory_during_submit(practice: Practice, big: Path) -> int:
    """The server's resident memory growth during one 75 MB `koppel submit`; the file is
    then opened once and checked whole."""
    assert practice.server is not None
    sampler = _PeakMemory(practice.server.pid)
    baseline = sampler.peak
    sampler.start()
    submit = ["submit", "--to", "D0001", "--type", "Invoice", "--env", "C20001", "--json"]
    item = json.loads(practice.koppel(*submit, str(big)))["item"]["id"]
    sampler.running = False
    sampler.join()
    opened = Path(json.loads(practice.koppel("open", str(item), "--json"))["path"])
    if hashlib.sha256(opened.read_bytes()).digest() != hashlib.sha256(big.read_bytes()).digest():
        raise SystemExit("the opened file differs from the submitted one")
    opened.unlink()
    return sampler.peak - baseline


def _small_files(practice: Practice, count: int, rounds: int) -> dict[str, list[float]]:
    """``rounds`` interleaved rounds of ``count`` 20 KB files: `rclone copy` (its default
    4 transfers) and `koppel submit` of 200 at a time (the most one item holds, with its
    default 4 transfers); the server's CPU per file."""
    small = practice.home / "small"
    small.mkdir()
    for i in range(count):
        (small / f"doc-{i:04}.pdf").write_bytes(os.urandom(20 * 1024))
    names = sorted(str(p) for p in small.iterdir())
    submit = ["submit", "--to", "D0001", "--type", "Invoice", "--env", "C20001"]
    webdav_dir = practice.base / "webdav-small"
    webdav_dir.mkdir()
    rclone, webdav = rclone_server(webdav_dir)
    flags = ["--webdav-url", webdav, "--config", "/dev/null", "-q", "--transfers", "4"]
    agent, home = practice.agent_env, practice.home
    times: dict[str, list[float]] = {"rclone": [], "koppel": [], "server cpu per file": []}
    assert practice.server is not None
    try:
        for round_ in range(rounds):
            remote = f":webdav:small-{round_}"
            times["rclone"].append(timed(["rclone", "copy", str(small), remote, *flags], agent,
                                         home))  # fmt: skip
            cpu, start = cpu_seconds(practice.server.pid), time.perf_counter()
            for first in range(0, len(names), 200):
                practice.koppel(*submit, "--subject", "batch", *names[first : first + 200])
            times["koppel"].append(time.perf_counter() - start)
            times["server cpu per file"].append(
                (cpu_seconds(practice.server.pid) - cpu) / len(names)
            )
    finally:
        rclone.terminate()
        rclone.wait(10)
    return times


def _quick(options: argparse.Namespace) -> None:
    """Smaller settings for a run under two minutes."""
    options.repeat, options.small_repeat, options.small = 3, 1, 200
    options.runs, options.clients, options.idle = 5, 100, 5.0
    options.startup_rounds = 7


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Fewer rounds: under two minutes.")
    parser.add_argument(
        "--repeat", type=int, default=5, help="Rounds of 75 MB transfers each way; medians count."
    )
    parser.add_argument("--small", type=int, default=1000, help="Number of 20 KB files.")
    parser.add_argument("--small-repeat", type=int, default=2, help="Rounds of small files.")
    parser.add_argument("--startup-rounds", type=int, default=15, help="Rounds of start-ups.")
    parser.add_argument("--runs", type=int, default=20, help="Analyses timed for the p95.")
    parser.add_argument("--clients", type=int, default=1000, help="Environments watched.")
    parser.add_argument("--idle", type=float, default=20.0, help="Seconds the watcher idles.")
    options = parser.parse_args()
    if options.quick:
        _quick(options)
    if not shutil.which("rclone"):
        raise SystemExit("rclone is not installed: apt-get install rclone")
    started = time.perf_counter()

    starts = startup.measure(options.startup_rounds)
    practice = Practice().start("--demo")
    try:
        practice.link("C20001")
        big = practice.home / "big.zip"  # random bytes; .zip is among the accepted types
        big.write_bytes(os.urandom(75 * MB))
        growth = _memory_during_submit(practice, big)
        whole = breakdown.measure(practice, big, options.repeat)
        small = _small_files(practice, options.small, options.small_repeat)
        # What verification alone costs: Koppel checks a sha256 of the whole file each
        # way (rclone, to this WebDAV server, checks sizes only).
        content = big.read_bytes()
        start = time.perf_counter()
        hashlib.sha256(content).hexdigest()
        sha256_alone = time.perf_counter() - start
        del content
        latencies = _job_to_file_latencies(practice, options.runs)
    finally:
        practice.stop()
        shutil.rmtree(practice.base, ignore_errors=True)
    idle = watch.measure(options.clients, options.idle)

    failed = not startup.report(starts)
    if failed:
        breakdown.MISSED.append("start-up (above)")
    failed |= not breakdown.report(whole)
    print(f"sha256 of the {BIG} file alone, in memory, in this process: "
          f"{sha256_alone * 1000:.0f} ms")  # fmt: skip

    koppel, rclone = statistics.median(small["koppel"]), statistics.median(small["rclone"])
    per_file = statistics.median(small["server cpu per file"])
    rounds = options.small_repeat
    print(f"\n{options.small:,} files of {format_size(20 * 1024)}, {rounds} interleaved "
          f"round{'s' if rounds > 1 else ''} (s):")  # fmt: skip
    for name in ("koppel", "rclone"):
        print(f"  {name:<8}" + " ".join(f"{v:8.3f}" for v in small[name]))
    met = koppel <= SMALL_TARGET * rclone
    failed |= not met
    if not met:
        breakdown.MISSED.append(f"small files {koppel / rclone:.2f}x (target {SMALL_TARGET}x)")
    print(f"koppel submit {koppel:.2f} s, rclone copy {rclone:.2f} s: {koppel / rclone:.2f}x  "
          f"target {SMALL_TARGET}x {'ok' if met else 'MISSED'}")  # fmt: skip
    print(f"server CPU per file: {per_file * 1000:.2f} ms (reported)")

    p95 = statistics.quantiles(latencies, n=20)[-1] if len(latencies) >= 2 else latencies[0]
    checks = [
        (f"server RSS growth, {BIG} upload", format_size(growth), f"< {format_size(64 * MB)}",
         growth < 64 * MB),
        (f"job ready -> file renamed, p95 of {len(latencies)}", f"{p95 * 1000:.0f} ms", "< 1 s",
         p95 < 1.0),
        ("  (median)", f"{statistics.median(latencies) * 1000:.0f} ms", "", True),
        (f"watch, {idle['environments']:.0f} environments: idle CPU",
         f"{idle['idle_cpu_percent']:.2f} %", "< 1 %", idle["idle_cpu_percent"] < 1),
        ("watch: TCP connections", f"{idle['connections']:.0f}", "1", idle["connections"] == 1),
    ]  # fmt: skip
    print()
    for name, value, target_text, ok in checks:
        failed |= not ok
        print(f"{name:<46}{value:>10}  {target_text:<8} {'ok' if ok else 'MISSED'}")
        if not ok:
            breakdown.MISSED.append(name.strip())
    print(f"\nwhole run: {time.perf_counter() - started:.0f} s")
    if failed:
        print("MISSED: " + "; ".join(breakdown.MISSED))
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
