"""Benchmark: the background agent (`koppel agent run`) at rest.

On a real `koppel-server` with the demo practice, a workstation linked to a few
environments (the firm and its clients, one bundle) starts the background agent, waits
until it follows and its status says connected, then measures over the idle period its
CPU (target < 0.5 %) and its resident memory (target < 80 MB, without the GUI), read
from /proc.

    .venv/bin/python bench/agent_idle.py [--idle 30]
"""

from __future__ import annotations

import argparse
import json
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


def _connected(practice: Practice) -> bool:
    path = practice.home / ".local/share/koppel/status.json"
    try:
        servers = json.loads(path.read_text())["servers"]
    except (OSError, ValueError, KeyError):
        return False
    return any(s["state"] == "connected" for s in servers.values())


def measure(idle_seconds: float) -> dict[str, float]:
    """Link the demo bundle, start the background agent, measure it idle."""
    practice = Practice().start("--demo")
    agent: subprocess.Popen[bytes] | None = None
    try:
        practice.link_bundle()
        log_path = practice.base / "agent.log"
        with log_path.open("wb") as log:
            agent = subprocess.Popen(
                [str(BIN / "koppel"), "agent", "run"],
                env=practice.agent_env,
                cwd=practice.home,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        started = _wait(lambda: _connected(practice), 60, "the agent to connect")
        time.sleep(3)  # the first queue round and catch-up are over
        before, wall = cpu_seconds(agent.pid), time.perf_counter()
        peak = 0
        end = wall + idle_seconds
        while time.perf_counter() < end:
            peak = max(peak, rss_bytes(agent.pid))
            time.sleep(1)
        idle = 100 * (cpu_seconds(agent.pid) - before) / (time.perf_counter() - wall)
        return {
            "environments": 4,
            "startup_s": started,
            "idle_cpu_percent": idle,
            "rss_mib": rss_bytes(agent.pid) / 2**20,
            "peak_rss_mib": peak / 2**20,
            "connections": tcp_connections(agent.pid, practice.port),
        }
    finally:
        if agent is not None:
            agent.terminate()
            agent.wait(20)
        practice.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=float, default=30.0, help="Seconds of idle measured.")
    options = parser.parse_args()
    m = measure(options.idle)
    print(f"environments followed        {m['environments']:6.0f}")
    print(f"start-up until connected     {m['startup_s']:6.2f} s")
    print(
        f"idle CPU over {options.idle:.0f} s          {m['idle_cpu_percent']:6.3f} %"
        "   (target < 0.5 %)"
    )
    print(f"resident memory (RSS)        {m['rss_mib']:6.1f} MiB (target < 80 MB)")
    print(f"peak RSS while idle          {m['peak_rss_mib']:6.1f} MiB")
    print(f"TCP connections to server    {m['connections']:6.0f}")


if __name__ == "__main__":
    main()
