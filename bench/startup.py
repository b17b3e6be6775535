"""Benchmark: what starting ``koppel`` costs (a command pays only for what it uses).

Every "Send to Koppel", every script call and every shell completion starts a fresh
process, so start-up is the floor of every command. Times, in interleaved rounds so that
a busy machine slows all alike, the bare interpreter (``python -c pass``, the same
interpreter), ``koppel --version``, ``koppel envs`` with the demo firm's bundle linked
against a real ``koppel-server``, ``koppel submit --help``, and the import of the modules
``koppel submit`` and ``koppel open`` load before their first request. Prints each median
in ms and as a delta against the bare interpreter, with its target; exits 1 when a target
is missed.

    .venv/bin/python bench/startup.py [--rounds 15] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from _procs import BIN, Practice

PYTHON = sys.executable
# Delta over `python -c pass`, in ms; None: shown, not judged.
TARGETS: dict[str, float | None] = {
    "koppel --version": 40,
    "koppel envs": 120,
    "koppel submit --help": None,
    "import submit/open modules": None,
}
# What `koppel submit` and `koppel open` import before their first request.
_REQUEST_PATH = (
    "from koppel.agent.cli import _skip_httpx_command_line, app\n"
    "_skip_httpx_command_line()\n"
    "import koppel.agent.submitting, koppel.agent.dossier"
)


def _commands(practice: Practice) -> dict[str, list[str]]:
    koppel = str(BIN / "koppel")
    return {
        "python -c pass": [PYTHON, "-c", "pass"],
        "koppel --version": [koppel, "--version"],
        "koppel envs": [koppel, "envs"],
        "koppel submit --help": [koppel, "submit", "--help"],
        "import submit/open modules": [PYTHON, "-c", _REQUEST_PATH],
    }


def _once(args: list[str], practice: Practice) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        args, env=practice.agent_env, cwd=practice.home, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return elapsed * 1000


def measure(rounds: int) -> dict[str, float]:
    """Median wall time (ms) of each start-up, over ``rounds`` interleaved rounds, with
    the demo bundle linked to a fresh practice server (started and stopped here)."""
    practice = Practice().start("--demo")
    try:
        practice.link_bundle()
        commands = _commands(practice)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for args in commands.values():  # warm the file cache and .pyc files
            _once(args, practice)
        for _ in range(rounds):
            for name, args in commands.items():
                times[name].append(_once(args, practice))
        return {name: statistics.median(values) for name, values in times.items()}
    finally:
        practice.stop()


def report(medians: dict[str, float]) -> bool:
    """Print each median, its delta over the bare interpreter and its target; whether
    every target was met."""
    floor = medians["python -c pass"]
    print(f"{'python -c pass':<28} {floor:7.1f} ms")
    met = True
    for name, target in TARGETS.items():
        value = medians[name]
        delta = value - floor
        if target is None:
            verdict = ""
        else:
            ok = delta <= target
            met = met and ok
            verdict = f"(target +{target:.0f} ms) {'ok' if ok else 'MISSED'}"
        print(f"{name:<28} {value:7.1f} ms  +{delta:6.1f} ms  {verdict}")
    return met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="Interleaved rounds.")
    parser.add_argument("--quick", action="store_true", help="Five rounds.")
    options = parser.parse_args()
    medians = measure(5 if options.quick else options.rounds)
    sys.exit(0 if report(medians) else 1)


if __name__ == "__main__":
    main()
