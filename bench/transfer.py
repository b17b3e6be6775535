"""Benchmark: moving files through Koppel, against rclone on the same loopback.

Everything runs on 127.0.0.1 in one script, against a real `koppel-server` with the demo
practice and the real `koppel` agent:

- a 75 MB submit through Koppel (tus) and the same upload with rclone to
  `rclone serve webdav` (Debian package `rclone`), and a 75 MB download both ways; target:
  Koppel within 1.25x rclone. The target compares transfers: the agent's own code run in
  this process against rclone's command minus its start-up, median of `--repeat`
  interleaved rounds. The whole commands (`koppel submit`, `koppel open`) are reported;
- the server's resident memory growth during the `koppel submit`; target < 64 MB;
- 1,000 files of 20 KB submitted, and the same copied with rclone (no target, reported);
- from an analysis job finishing (its `ready_at`) to the file renamed into the Downloads
  folder by `koppel watch`, p95 over the runs; target < 1 s;
- `koppel watch` with 1,000 linked environments: one connection, < 1 % CPU idle.

    .venv/bin/python bench/transfer.py [--repeat 7] [--runs 20] [--clients 1000] [--idle 20]
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
from _procs import BIN, Practice, cpu_seconds, free_port, rss_bytes, timed
from koppel.protocol.sizes import format_size

MB = 1024 * 1024
BIG = format_size(75 * MB)  # as Windows Explorer shows the file: 75.0 MB


def _rclone_server(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        ["rclone", "serve", "webdav", str(folder), "--addr", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.request("PROPFIND", url, headers={"Depth": "0"}, timeout=1)
            return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("rclone serve webdav did not start")


class _PeakMemory(threading.Thread):
    """Samples a process's resident memory until stopped; keeps the peak."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.running = pid, rss_bytes(pid), True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, rss_bytes(self.pid))
            time.sleep(0.01)


def _token(practice: Practice, code: str) -> str:
    tokens = json.loads((practice.home / ".local/share/koppel/tokens.json").read_text())
    return next(t for key, t in tokens["tokens"].items() if key.split("|")[1] == code)


def _job_to_file_latencies(practice: Practice, runs: int) -> list[float]:
    """Request analyses one after another; time from ready_at to the file in Downloads."""
    headers = {"Authorization": f"Bearer {_token(practice, 'C20001')}", "Koppel-Update": "2026.2"}
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


def _in_process(practice: Practice, big: Path) -> tuple[float, float]:
    """One 75 MB submit and download through the agent's own code in this process
    (no interpreter start-up): tus upload + item creation, then a verified download."""
    import uuid

    from koppel.agent.api import AgentClient
    from koppel.agent.downloading import download_attachment
    from koppel.protocol.dossier import CreateItemRequest

    token = _token(practice, "C20001")
    with AgentClient(practice.url) as client:
        start = time.perf_counter()
        upload = client.upload("C20001", token, big, progress=False)
        request = CreateItemRequest(
            submission_id=uuid.uuid4().hex,
            subject="in-process",
            type="Invoice",
            destination="D0001",
            uploads=[upload],
        )
        item = client.create_item("C20001", token, request).item
        up = time.perf_counter() - start
        attachment = item.attachments[0].id
        target = practice.home / "in-process.bin"
        target.unlink(missing_ok=True)
        start = time.perf_counter()
        download_attachment(client, "C20001", token, item.id, attachment, target)
        down = time.perf_counter() - start
    return up, down


def _rounds(
    practice: Practice,
    big: Path,
    small: Path,
    flags: list[str],
    repeat: int,
    small_repeat: int,
    server_pid: int,
) -> dict[str, list[float]]:
    """``repeat`` interleaved rounds of every paired measurement; medians count.

    Interleaved so that both sides meet the same machine (this one's speed drifts by 2x
    from minute to minute). rclone gets a new remote name each round because it skips a
    copy whose target already has the same size and time.
    """
    agent, home = practice.agent_env, practice.home
    times: dict[str, list[float]] = {}
    names = sorted(str(p) for p in small.iterdir())
    submit = ["submit", "--to", "D0001", "--type", "Invoice", "--env", "C20001"]

    def add(name: str, value: float) -> None:
        times.setdefault(name, []).append(value)

    for round_ in range(repeat):
        remote = f":webdav:big-{round_}.bin"
        add("rclone up", timed(["rclone", "copyto", str(big), remote, *flags], agent, home))
        start = time.perf_counter()
        item = json.loads(practice.koppel(*submit, "--json", str(big)))["item"]["id"]
        add("submit", time.perf_counter() - start)
        local = home / f"rclone-down-{round_}.bin"
        add("rclone down", timed(["rclone", "copyto", remote, str(local), *flags], agent, home))
        local.unlink()
        add("open", _timed_open(practice, item))
        up, down = _in_process(practice, big)
        add("library up", up)
        add("library down", down)
        add("rclone version", timed(["rclone", "version"], agent, home))
    for round_ in range(small_repeat):
        add("rclone small", timed(["rclone", "copy", str(small), f":webdav:small-{round_}",
                                   *flags], agent, home))  # fmt: skip
        cpu = cpu_seconds(server_pid)
        start = time.perf_counter()
        for first in range(0, len(names), 200):  # at most 200 attachments per item
            practice.koppel(*submit, "--subject", "batch", *names[first : first + 200])
        add("small", time.perf_counter() - start)
        add("server CPU per small file", (cpu_seconds(server_pid) - cpu) / len(names))
    return times


def _timed_open(practice: Practice, item: int) -> float:
    """`koppel open` of a 75 MB item, whole command; the local copy is removed after, so
    that every round downloads."""
    start = time.perf_counter()
    opened = json.loads(practice.koppel("open", str(item), "--env", "C20001", "--json"))
    elapsed = time.perf_counter() - start
    Path(opened["path"]).unlink()
    return elapsed


def _quick(options: argparse.Namespace) -> None:
    """Smaller settings for a run under two minutes."""
    options.repeat, options.small_repeat, options.small = 3, 1, 200
    options.runs, options.clients, options.idle = 5, 100, 5.0
    options.startup_rounds = 7


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="Analyses timed for the p95.")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--idle", type=float, default=20.0)
    parser.add_argument("--small", type=int, default=1000, help="Number of 20 KB files.")
    parser.add_argument(
        "--repeat", type=int, default=5, help="Rounds of 75 MB transfers each way; medians count."
    )
    parser.add_argument("--small-repeat", type=int, default=2, help="Rounds of small files.")
    parser.add_argument("--startup-rounds", type=int, default=15, help="Rounds of start-ups.")
    parser.add_argument("--quick", action="store_true", help="Fewer rounds: under two minutes.")
    options = parser.parse_args()
    if options.quick:
        _quick(options)
    if not shutil.which("rclone"):
        raise SystemExit("rclone is not installed: apt-get install rclone")
    started = time.perf_counter()

    starts = startup.measure(options.startup_rounds)
    practice = Practice().start("--demo")
    rclone_dir = practice.base / "webdav"
    rclone_dir.mkdir()
    rclone, webdav = _rclone_server(rclone_dir)
    home = practice.home
    flags = ["--webdav-url", webdav, "--config", "/dev/null", "-q"]
    try:
        practice.link_bundle()
        big = home / "big.zip"  # random bytes; .zip is among the accepted types
        big.write_bytes(os.urandom(75 * MB))
        digest = hashlib.sha256(big.read_bytes()).hexdigest()
        small = home / "small"
        small.mkdir()
        for i in range(options.small):
            (small / f"doc-{i:04}.pdf").write_bytes(os.urandom(20 * 1024))

        # The server's memory during one 75 MB submit, and one download checked whole.
        assert practice.server is not None
        sampler = _PeakMemory(practice.server.pid)
        baseline = sampler.peak
        sampler.start()
        submit = ["submit", "--to", "D0001", "--type", "Invoice", "--env", "C20001"]
        item = json.loads(practice.koppel(*submit, "--json", str(big)))["item"]["id"]
        sampler.running = False
        sampler.join()
        growth = sampler.peak - baseline
        opened = json.loads(practice.koppel("open", str(item), "--env", "C20001", "--json"))
        assert hashlib.sha256(Path(opened["path"]).read_bytes()).hexdigest() == digest
        Path(opened["path"]).unlink()

        times = _rounds(practice, big, small, flags, options.repeat, options.small_repeat,
                        practice.server.pid)  # fmt: skip
        phases = breakdown.measure(practice, big, options.repeat)
        # What verification alone costs: both Koppel directions check a sha256 of the
        # whole file (rclone, to this WebDAV server, checks sizes only).
        start = time.perf_counter()
        hashlib.sha256(big.read_bytes()).hexdigest()
        sha256_alone = time.perf_counter() - start
        latencies = _job_to_file_latencies(practice, options.runs)
    finally:
        rclone.terminate()
        rclone.wait(10)
        practice.stop()
        shutil.rmtree(practice.base, ignore_errors=True)
    idle = watch.measure(options.clients, options.idle)

    med = {name: statistics.median(values) for name, values in times.items()}
    rclone_start = med["rclone version"]
    # The library rows compare the agent's code in this process with rclone's command
    # minus its own start-up (`rclone version`); the command rows compare whole commands.
    rclone_up_net = max(med["rclone up"] - rclone_start, 1e-3)
    rclone_down_net = max(med["rclone down"] - rclone_start, 1e-3)
    n = options.repeat
    rows = [
        (f"koppel submit {BIG} (command, median of {n})", med["submit"], med["rclone up"], 1.6),
        (f"koppel open {BIG} (command, median of {n})", med["open"], med["rclone down"], 2.0),
        (f"{BIG} up (library, median of {n})", med["library up"], rclone_up_net, 1.25),
        (f"{BIG} down (library, median of {n})", med["library down"], rclone_down_net, 1.1),
        (f"{options.small:,} x {format_size(20 * 1024)} (median of {options.small_repeat})",
         med["small"], med["rclone small"], 0.5),
    ]  # fmt: skip
    print("\nrounds (s):")
    for name, values in times.items():
        print(f"  {name:<26}" + " ".join(f"{v:7.3f}" for v in values))
    print(f"\nrclone start-up (`rclone version`): {rclone_start * 1000:.0f} ms")
    print(f"sha256 of the {BIG} file alone, in this process: {sha256_alone * 1000:.0f} ms")
    failed = startup.report(starts)
    print(f"\n{'transfer':<46}{'koppel s':>10}{'rclone s':>10}{'ratio':>8}  target")
    for name, ours, theirs, target in rows:
        ok = ours <= target * theirs
        failed |= not ok
        print(f"{name:<46}{ours:>10.3f}{theirs:>10.3f}{ours / theirs:>7.2f}x  "
              f"<= {target}x {'ok' if ok else 'MISSED'}")  # fmt: skip
    per_file = med["server CPU per small file"]
    print(f"{'server CPU per small file':<46}{per_file * 1000:>9.2f} ms  reported")
    breakdown.report(phases)
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
    print(f"\nwhole run: {time.perf_counter() - started:.0f} s")
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
