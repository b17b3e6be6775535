"""Benchmark: `koppel watch` with one workstation linked to 1,000 client environments.

Measures, on a real server with the demo practice plus N clients: the watcher's idle CPU
(target < 1 %), its TCP connections to the server (target: 1 for all environments), the
start-up until it follows, and the time from `koppel-admin files publish` to the file in
the downloads folder.

    .venv/bin/python bench/watch.py [--clients 1000] [--idle 30]
"""

from __future__ import annotations

import argparse
import subprocess
import time
from collections.abc import Callable

from _procs import BIN, Practice, cpu_seconds, rss_bytes, tcp_connections


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    start = time.perf_counter()
    while not predicate():
        if time.perf_counter() - start > timeout:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)
    return time.perf_counter() - start


def measure(clients: int, idle_seconds: float) -> dict[str, float]:
    """Link ``clients`` extra environments, start `koppel watch`, measure it idle."""
    practice = Practice().start("--demo")
    watcher: subprocess.Popen[bytes] | None = None
    try:
        codes = [f"C{30000 + i}" for i in range(clients)]
        csv = practice.base / "clients.csv"
        csv.write_text("code,name,kind\n" + "".join(f"{c},Client {c},client\n" for c in codes))
        practice.admin("env", "import", str(csv), "--firm", "F10001")
        practice.admin("setup", "client", *codes, "--firm", "F10001", "--user", "anna")
        practice.link_bundle()
        log_path = practice.base / "watch.log"
        with log_path.open("wb") as log:
            watcher = subprocess.Popen(
                [str(BIN / "koppel"), "watch"],
                env=practice.agent_env,
                cwd=practice.home,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        started = _wait(
            lambda: "on one connection" in log_path.read_text(), 120, "the watcher to follow"
        )
        time.sleep(2)
        before, wall = cpu_seconds(watcher.pid), time.perf_counter()
        time.sleep(idle_seconds)
        idle = 100 * (cpu_seconds(watcher.pid) - before) / (time.perf_counter() - wall)
        connections = tcp_connections(watcher.pid, practice.port)
        sample = practice.base / "report.pdf"
        sample.write_bytes(b"%PDF " * 1000)
        downloads = practice.home / "Downloads"
        begin = time.perf_counter()
        practice.admin("files", "publish", codes[-1], "anna", str(sample))
        _wait(lambda: any(p.is_file() for p in downloads.rglob("report.pdf")), 30, "the file")
        latency = time.perf_counter() - begin
        return {
            "environments": clients + 4,
            "startup_s": started,
            "idle_cpu_percent": idle,
            "connections": connections,
            "memory_mib": rss_bytes(watcher.pid) / 2**20,
            "publish_to_file_s": latency,
        }
    finally:
        if watcher is not None:
            watcher.terminate()
            watcher.wait(20)
        practice.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--idle", type=float, default=30.0, help="Seconds of idle measured.")
    options = parser.parse_args()
    m = measure(options.clients, options.idle)
    print(f"environments followed      {m['environments']:6.0f}")
    print(f"start-up until following   {m['startup_s']:6.2f} s")
    print(
        f"idle CPU over {options.idle:.0f} s        {m['idle_cpu_percent']:6.2f} %   (target < 1 %)"
    )
    print(f"TCP connections to server  {m['connections']:6.0f}     (target 1)")
    print(f"watcher memory             {m['memory_mib']:6.1f} MiB")
    print(f"publish -> file arrived    {m['publish_to_file_s']:6.2f} s   (with CLI start-up)")


if __name__ == "__main__":
    main()
