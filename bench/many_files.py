"""Benchmark: a submission of many small files, several in flight at once.

A practice scans a month of receipts and sends them at once: 200 and 1,000 files of
20 KB, submitted with the real `koppel submit` (200 files per submit, the most one item
holds) to a real `koppel-server` with the demo practice, and the same files copied with
`rclone copy DIR :webdav:x --transfers 4` to `rclone serve webdav`, all on 127.0.0.1 in
the same run. Rounds are interleaved (the machine is shared); medians are reported.

Variants: `--transfers 1` (one file after another) and the default 4 of this agent;
with `--before PATH/bin/koppel`, also an older agent (e.g. the main branch's venv), which
sends against the same server.

    .venv/bin/python bench/many_files.py [--repeat 5] [--before /work/main/.venv/bin/koppel]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from _procs import BIN, Practice, rclone_server, run
from koppel.protocol.sizes import format_size

PER_SUBMIT = 200


def _files(folder: Path, count: int) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"scan-{i:04}.pdf").write_bytes(os.urandom(20 * 1024))
    return sorted(str(p) for p in folder.iterdir())


def _koppel(practice: Practice, koppel: Path, names: list[str], *extra: str) -> float:
    submit = [str(koppel), "submit", "--to", "D0001", "--type", "Invoice", "--env", "C20001"]
    took = 0.0
    for first in range(0, len(names), PER_SUBMIT):
        start = time.perf_counter()
        run([*submit, *extra, *names[first : first + PER_SUBMIT]], practice.agent_env,
            practice.home)  # fmt: skip
        took += time.perf_counter() - start
        print(f"  {koppel} {' '.join(extra)}: {time.perf_counter() - start:.2f} s", flush=True)
    return took


def main() -> None:
    """Run the rounds and print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="Interleaved rounds.")
    parser.add_argument("--before", type=Path, help="An older `koppel` to compare with.")
    options = parser.parse_args()
    practice = Practice().start("--demo")
    webdav_root = practice.base / "webdav"
    webdav_root.mkdir()
    rclone, webdav = rclone_server(webdav_root)
    flags = ["--webdav-url", webdav, "--config", "/dev/null", "-q", "--transfers", "4"]
    try:
        practice.link_bundle()
        variants: dict[str, list[str]] = {"koppel --transfers 1": ["--transfers", "1"]}
        variants["koppel (default 4)"] = []
        agents = {name: BIN / "koppel" for name in variants}
        if options.before:
            variants["koppel before"] = []
            agents["koppel before"] = options.before
        times: dict[tuple[int, str], list[float]] = {}
        for count in (200, 1000):
            names = _files(practice.base / f"files-{count}", count)
            for _round in range(options.repeat):
                for name, extra in variants.items():
                    took = _koppel(practice, agents[name], names, *extra)
                    times.setdefault((count, name), []).append(took)
                # A new folder each round: rclone copies every file again.
                target = f":webdav:x-{count}-{_round}"
                start = time.perf_counter()
                run(["rclone", "copy", str(Path(names[0]).parent), target, *flags],
                    practice.agent_env, practice.home)  # fmt: skip
                times.setdefault((count, "rclone --transfers 4"), []).append(
                    time.perf_counter() - start
                )
        size = format_size(20 * 1024)
        print(f"{'files':>6}  {'who':<22} {'median s':>9} {'files/s':>8}  runs")
        for (count, name), found in times.items():
            median = statistics.median(found)
            runs = " ".join(f"{t:.2f}" for t in found)
            print(f"{count:>6}  {name:<22} {median:>9.2f} {count / median:>8.0f}  {runs}")
        print(f"(files of {size}; koppel: {PER_SUBMIT} files per submit, whole commands)")
    finally:
        rclone.terminate()
        rclone.wait(10)
        practice.stop()


if __name__ == "__main__":
    main()
