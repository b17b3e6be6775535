"""Benchmark: where a whole `koppel submit` / `koppel open` of 75 MB spends its time.

Each round runs, interleaved on the same loopback: `rclone copyto` up, `koppel submit`,
`rclone copyto` down, `koppel open`, and a library download and upload (the agent's own
code in this process, no start-up) against the rclone commands minus `rclone version`.
The commands run with ``KOPPEL_TIMINGS`` set, so each says where its time went (start-up,
token read, request, transfer, verify, fsync, ...). Medians of the rounds are printed.

Targets: `koppel submit` within 1.6x and `koppel open` within 2x the rclone commands; the
library download within 1.1x and the library upload within 1.25x rclone's commands minus
its start-up.

    .venv/bin/python bench/breakdown.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path

from _procs import BIN, Practice, cpu_seconds, rclone_server, run

MB = 1024 * 1024
TARGETS = {"submit": 1.6, "open": 2.0, "library download": 1.1, "library upload": 1.25}
# What report() found missed, for a closing line.
MISSED: list[str] = []


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _own_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


def _timed(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall time and CPU time of one command that must succeed."""
    cpu, start = _children_cpu(), time.perf_counter()
    run(args, env, cwd)
    return time.perf_counter() - start, _children_cpu() - cpu


def _library_download(
    practice: Practice, token: str, item: int, attachment: int
) -> tuple[float, float]:
    """One verified download through the agent's code in this process (fresh connection):
    wall time and this process's CPU time."""
    from koppel.agent.api import AgentClient
    from koppel.agent.downloading import download_attachment

    target = practice.home / "library.bin"
    target.unlink(missing_ok=True)
    with AgentClient(practice.url) as client:
        cpu, start = _own_cpu(), time.perf_counter()
        download_attachment(client, "C20001", token, item, attachment, target)
        return time.perf_counter() - start, _own_cpu() - cpu


def _library_upload(practice: Practice, token: str, big: Path) -> tuple[float, float]:
    """One upload and item creation through the agent's code in this process: wall time
    and this process's CPU time."""
    from koppel.agent.api import AgentClient
    from koppel.protocol.dossier import CreateItemRequest

    with AgentClient(practice.url) as client:
        cpu, start = _own_cpu(), time.perf_counter()
        upload = client.upload("C20001", token, big, progress=False)
        request = CreateItemRequest(
            submission_id=uuid.uuid4().hex,
            subject="library",
            type="Invoice",
            destination="D0001",
            uploads=[upload],
        )
        client.create_item("C20001", token, request)
        return time.perf_counter() - start, _own_cpu() - cpu


def _with_timings(
    practice: Practice, args: list[str]
) -> tuple[float, float, dict[str, float], str]:
    """Wall time, CPU time, phases and output of one koppel command with KOPPEL_TIMINGS."""
    report = practice.base / f"timings-{uuid.uuid4().hex[:8]}.json"
    env = dict(practice.agent_env, KOPPEL_TIMINGS=str(report))
    cpu, start = _children_cpu(), time.perf_counter()
    out = run([str(BIN / "koppel"), *args], env, practice.home)
    wall, cpu = time.perf_counter() - start, _children_cpu() - cpu
    # An agent without KOPPEL_TIMINGS (an older one, measured for comparison) writes none.
    phases: dict[str, float] = json.loads(report.read_text())["phases"] if report.exists() else {}
    report.unlink(missing_ok=True)
    return wall, cpu, phases, out


def measure(practice: Practice, big: Path, rounds: int) -> dict[str, object]:
    """Interleaved rounds against a started ``practice`` (C20001 linked); the medians."""
    rclone_dir = practice.base / "webdav"
    rclone_dir.mkdir(exist_ok=True)
    rclone, webdav = rclone_server(rclone_dir)
    flags = ["--webdav-url", webdav, "--config", "/dev/null", "-q"]
    agent, home = practice.agent_env, practice.home
    token = practice.token("C20001")
    times: dict[str, list[float]] = {}
    phases: dict[str, dict[str, list[float]]] = {"submit": {}, "open": {}}

    def add(name: str, value: float) -> None:
        times.setdefault(name, []).append(value)

    try:
        submit = ["submit", "--to", "D0001", "--type", "Invoice", "--env", "C20001", "--json"]
        assert practice.server is not None
        servers = {"koppel": practice.server.pid, "rclone": rclone.pid}

        def step(name: str, side: str, action: Callable[[], tuple[float, float]]) -> None:
            # CPU time too: on a shared machine it drifts far less than wall time.
            before = cpu_seconds(servers[side])
            wall, cpu = action()
            add(name, wall)
            add(f"{name} cpu", cpu)
            add(f"{name} server cpu", cpu_seconds(servers[side]) - before)

        def command(name: str, args: list[str]) -> Callable[[], tuple[float, float]]:
            def go() -> tuple[float, float]:
                wall, cpu, found, out = _with_timings(practice, args)
                outputs[name] = out
                for phase, seconds in found.items():
                    phases[name].setdefault(phase, []).append(seconds)
                return wall, cpu

            return go

        outputs: dict[str, str] = {}
        for round_ in range(rounds):
            remote = f":webdav:big-{round_}.bin"
            local = home / f"rclone-{round_}.bin"
            step(
                "rclone up",
                "rclone",
                partial(_timed, ["rclone", "copyto", str(big), remote, *flags], agent, home),
            )
            step("submit", "koppel", command("submit", [*submit, str(big)]))
            item = json.loads(outputs["submit"])["item"]
            step(
                "rclone down",
                "rclone",
                partial(_timed, ["rclone", "copyto", remote, str(local), *flags], agent, home),
            )
            local.unlink()
            step("open", "koppel", command("open", ["open", str(item["id"]), "--json"]))
            Path(json.loads(outputs["open"])["path"]).unlink()
            step("rclone version", "rclone", partial(_timed, ["rclone", "version"], agent, home))
            step("library upload", "koppel", partial(_library_upload, practice, token, big))
            attachment = item["attachments"][0]["id"]
            step(
                "library download",
                "koppel",
                partial(_library_download, practice, token, item["id"], attachment),
            )
            (rclone_dir / f"big-{round_}.bin").unlink(missing_ok=True)
    finally:
        rclone.terminate()
        rclone.wait(10)
    medians = {name: statistics.median(values) for name, values in times.items()}
    # The library rows compare the agent's code in this process with rclone's command
    # minus its own start-up (`rclone version`).
    rclone_up_net = max(medians["rclone up"] - medians["rclone version"], 1e-3)
    rclone_down_net = max(medians["rclone down"] - medians["rclone version"], 1e-3)
    return {
        "rounds": rounds,
        "times": times,
        "medians": medians,
        "ratios": {
            "submit": medians["submit"] / medians["rclone up"],
            "open": medians["open"] / medians["rclone down"],
            "library download": medians["library download"] / rclone_down_net,
            "library upload": medians["library upload"] / rclone_up_net,
        },
        "phases": {
            command: {name: statistics.median(values) for name, values in found.items()}
            for command, found in phases.items()
        },
    }


def report(result: dict[str, object]) -> bool:
    """Print the medians, ratios and phases; whether every target is met."""
    medians, ratios = result["medians"], result["ratios"]
    assert isinstance(medians, dict) and isinstance(ratios, dict)
    print(f"\nmedians of {result['rounds']} interleaved rounds (ms):")
    print(f"  {'':<18}{'wall':>8}{'cpu':>8}{'server cpu':>12}")
    for name, value in medians.items():
        if not name.endswith("cpu"):
            cpu, server = medians[f"{name} cpu"], medians[f"{name} server cpu"]
            print(f"  {name:<18}{value * 1000:8.0f}{cpu * 1000:8.0f}{server * 1000:12.0f}")
    ok = True
    against = {
        "submit": "rclone copyto up, whole command",
        "open": "rclone copyto down, whole command",
        "library download": "rclone down minus its start-up",
        "library upload": "rclone up minus its start-up",
    }
    print(f"\n{'75 MB':<18}{'ratio':>7}  {'target':<8}{'':<8}against")
    for name, target in TARGETS.items():
        met = ratios[name] <= target
        ok &= met
        verdict = "ok" if met else "MISSED"
        print(f"{name:<18}{ratios[name]:>6.2f}x  {target:<5}x  {verdict:<8}{against[name]}")
        if not met:
            MISSED.append(f"{name} {ratios[name]:.2f}x (target {target}x)")
    phases = result["phases"]
    assert isinstance(phases, dict)
    for command, found in phases.items():
        print(f"\nkoppel {command}, median per phase (ms):")
        for name, seconds in found.items():
            print(f"  {name:<14}{seconds * 1000:8.0f}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="Interleaved rounds; medians.")
    options = parser.parse_args()
    if not shutil.which("rclone"):
        raise SystemExit("rclone is not installed: apt-get install rclone")
    practice = Practice().start("--demo")
    try:
        practice.link("C20001")
        big = practice.home / "big.zip"  # random bytes; .zip is among the accepted types
        big.write_bytes(os.urandom(75 * MB))
        ok = report(measure(practice, big, options.rounds))
    finally:
        practice.stop()
        shutil.rmtree(practice.base, ignore_errors=True)
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
