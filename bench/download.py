"""Benchmark: where the verified library download of 75 MB spends its time.

Interleaved rounds on the same loopback, each on a fresh connection to a real
`koppel-server`, against `rclone copyto` down minus `rclone version` (its start-up):

- receive: the body read into one 1 MiB buffer and dropped (the network and the server);
- receive + sha256: each buffer hashed as it arrives, nothing written;
- receive + write + fsync: written as the download writes (O_DIRECT where Linux allows
  it), no hash;
- verified download: `download_attachment`, the agent's code (hash, write, fsync, rename).

Wall time, this process's CPU time and the server's CPU time, medians of the rounds.

    .venv/bin/python bench/download.py [--rounds 9]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from _procs import Practice, cpu_seconds, rclone_server, run

MB = 1024 * 1024
TARGET = 1.1


def _cpu(who: int) -> float:
    used = resource.getrusage(who)
    return used.ru_utime + used.ru_stime


def _receive(readinto: Callable[[memoryview], int], each: Callable[[memoryview], None]) -> None:
    from koppel.agent.local.direct_io import aligned_buffer

    with aligned_buffer(MB) as buffer, memoryview(buffer) as view:
        while got := readinto(view):
            each(view[:got])


def _receive_only(readinto: Callable[[memoryview], int], target: Path) -> None:
    _receive(readinto, lambda _: None)


def _receive_hash(readinto: Callable[[memoryview], int], target: Path) -> None:
    digest = hashlib.sha256()
    _receive(readinto, digest.update)


def _receive_write(readinto: Callable[[memoryview], int], target: Path) -> None:
    from koppel.agent.local.direct_io import DirectWriter, aligned_buffer

    with target.open("wb") as handle, aligned_buffer(MB) as buffer, memoryview(buffer) as view:
        writer = DirectWriter(handle)
        while True:
            filled = 0
            while filled < MB and (got := readinto(view[filled:])):
                filled += got
            if not writer.write(view[:filled]):
                handle.write(view[:filled])
            if filled < MB:
                break
        handle.flush()
        os.fsync(handle.fileno())


PARTS = {
    "receive": _receive_only,
    "receive + sha256": _receive_hash,
    "receive + write + fsync": _receive_write,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9, help="Interleaved rounds; medians.")
    options = parser.parse_args()
    if not shutil.which("rclone"):
        raise SystemExit("rclone is not installed: apt-get install rclone")
    from koppel.agent.api import AgentClient
    from koppel.agent.downloading import download_attachment

    practice = Practice().start("--demo")
    times: dict[str, list[tuple[float, float, float]]] = {}
    try:
        practice.link("C20001")
        big = practice.home / "big.zip"  # random bytes; .zip is among the accepted types
        big.write_bytes(os.urandom(75 * MB))
        submit = ["submit", "--to", "D0001", "--type", "Invoice", "--env", "C20001", "--json"]
        item = json.loads(practice.koppel(*submit, str(big)))["item"]
        item_id, attachment = item["id"], item["attachments"][0]["id"]
        token = practice.token("C20001")
        webdav_dir = practice.base / "webdav"
        webdav_dir.mkdir()
        shutil.copy(big, webdav_dir / "big.bin")
        rclone, webdav = rclone_server(webdav_dir)
        assert practice.server is not None
        servers = {"koppel": practice.server.pid, "rclone": rclone.pid}
        flags = ["--webdav-url", webdav, "--config", "/dev/null", "-q"]
        local = practice.home / "rclone.bin"
        target = practice.home / "library.bin"

        def timed(name: str, side: str, action: Callable[[], object]) -> None:
            # The client's CPU: this process's, or rclone's (a child) for the rclone rows.
            who = resource.RUSAGE_CHILDREN if side == "rclone" else resource.RUSAGE_SELF
            server, cpu, start = cpu_seconds(servers[side]), _cpu(who), time.perf_counter()
            action()
            wall = time.perf_counter() - start
            own = _cpu(who) - cpu
            times.setdefault(name, []).append((wall, own, cpu_seconds(servers[side]) - server))

        def part(
            client: AgentClient, action: Callable[[Callable[[memoryview], int], Path], None]
        ) -> None:
            with client.attachment_content("C20001", token, item_id, attachment) as content:
                action(content.reader().readinto, target)

        def verified(client: AgentClient) -> None:
            download_attachment(client, "C20001", token, item_id, attachment, target)

        def koppel(name: str, action: Callable[[AgentClient], None]) -> None:
            # As bench/breakdown.py's library download: a fresh connection, made before
            # the clock starts; the file is deleted after it stops.
            with AgentClient(practice.url) as client:
                timed(name, "koppel", partial(action, client))
            target.unlink(missing_ok=True)

        rclone_down = ["rclone", "copyto", ":webdav:big.bin", str(local), *flags]
        version, env = ["rclone", "version"], practice.agent_env
        try:
            for _ in range(options.rounds):
                timed("rclone down", "rclone", partial(run, rclone_down, env, practice.home))
                local.unlink()
                timed("rclone version", "rclone", partial(run, version, env, practice.home))
                for name, action in PARTS.items():
                    koppel(name, partial(part, action=action))
                koppel("verified download", verified)
        finally:
            rclone.terminate()
            rclone.wait(10)
    finally:
        practice.stop()
        shutil.rmtree(practice.base, ignore_errors=True)

    median = {name: [statistics.median(v[i] for v in values) for i in range(3)]
              for name, values in times.items()}  # fmt: skip
    net = median["rclone down"][0] - median["rclone version"][0]
    print(f"75 MB down, medians of {options.rounds} interleaved rounds (ms; x: against rclone "
          f"down minus its start-up, {net * 1000:.0f} ms):")  # fmt: skip
    print(f"  {'':<26}{'wall':>7}{'x':>7}{'cpu':>7}{'server cpu':>12}{'fastest':>9}")
    for name, (wall, cpu, server) in median.items():
        fastest = min(v[0] for v in times[name])
        ratio = "" if name.startswith("rclone") else f"{wall / net:.2f}x"
        print(f"  {name:<26}{wall * 1000:7.0f}{ratio:>7}{cpu * 1000:7.0f}{server * 1000:12.0f}"
              f"{fastest * 1000:9.0f}")  # fmt: skip
    ratio = median["verified download"][0] / net
    print(f"rclone down minus its start-up: {net * 1000:.0f} ms; verified download "
          f"{ratio:.2f}x (target {TARGET}x {'ok' if ratio <= TARGET else 'MISSED'})")  # fmt: skip


if __name__ == "__main__":
    main()
