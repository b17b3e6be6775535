"""Benchmark: one workstation linked to 1,000 client environments.

Starts a real ``koppel-server`` on a free loopback port, creates a firm and 1,000 client
environments with ``koppel-admin`` (each given the firm's dossier template), saves one
bundle and links it with the real ``koppel`` agent, then times ``koppel envs``,
``koppel doctor`` and ``koppel-admin check --all``.
Each figure is printed with its target and with its ratio to the start-up time of the
agent itself (``koppel --version``) measured in the same run, the floor of any command.

    .venv/bin/python bench/link.py [--clients 1000]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from _procs import clean_env, free_port

BIN = Path(sys.executable).parent


def _timed(args: list[str], env: dict[str, str], cwd: Path, expect: int = 0) -> float:
    start = time.perf_counter()
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != expect:
        raise SystemExit(f"{' '.join(args[:3])}… exited {done.returncode}:\n{done.stderr[-2000:]}")
    return elapsed


def _best_of(runs: int, args: list[str], env: dict[str, str], cwd: Path) -> float:
    return statistics.median(_timed(args, env, cwd) for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    options = parser.parse_args()
    n = options.clients
    base = Path(tempfile.mkdtemp(prefix="koppel-bench-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    clean = clean_env()
    server_env = dict(
        clean,
        KOPPEL_DATA_DIR=str(base / "server"),
        KOPPEL_PORT=str(port),
        KOPPEL_PUBLIC_URL=url,
        KOPPEL_ACTOR="bench",
    )
    home = base / "home"
    home.mkdir()
    agent_env = dict(
        clean,
        HOME=str(home),
        XDG_DATA_HOME=str(home / ".local/share"),
        KOPPEL_PASSWORD="bench-password",
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
    )
    admin = [str(BIN / "koppel-admin")]
    koppel = [str(BIN / "koppel")]
    log = (base / "server.log").open("wb")
    server = subprocess.Popen(
        [str(BIN / "koppel-server"), "--log-level", "info"],
        env=server_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(300):
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        print(f"setting up a firm and {n} client environments…", flush=True)
        start = time.perf_counter()
        _timed(
            [
                *admin,
                "accounts",
                "create",
                "anna",
                "--name",
                "Anna",
                "--password",
                "bench-password",
            ],
            server_env,
            base,
        )
        _timed(
            [*admin, "env", "create", "F10001", "--name", "Firm", "--kind", "firm"],
            server_env,
            base,
        )
        _timed([*admin, "users", "add", "F10001", "anna"], server_env, base)
        _timed([*admin, "setup", "firm", "F10001"], server_env, base)
        # The firm's dossier, the template `setup client` copies into every client.
        destinations = base / "destinations.csv"
        destinations.write_text("code,name,kind\nORG,Firm,organisation\nD0001,Debtor,debtor\n")
        _timed([*admin, "destinations", "import", "F10001", str(destinations)], server_env, base)
        _timed([*admin, "item-types", "create", "F10001", "Invoice"], server_env, base)
        _timed([*admin, "template", "copy-from", "F10001", "F10001"], server_env, base)
        csv = base / "clients.csv"
        codes = [f"C{30000 + i}" for i in range(n)]
        csv.write_text("code,name,kind\n" + "".join(f"{c},Client {c},client\n" for c in codes))
        _timed([*admin, "env", "import", str(csv), "--firm", "F10001"], server_env, base)
        _timed(
            [*admin, "setup", "client", *codes, "--firm", "F10001", "--user", "anna"],
            server_env,
            base,
        )
        setup_s = time.perf_counter() - start
        bundle_s = _timed(
            [
                *koppel,
                "settings",
                "download",
                "--server",
                url,
                "--env",
                "F10001",
                "--login",
                "anna",
                "--bundle",
                "-o",
                "bundle.koppel",
            ],
            agent_env,
            home,
        )

        reference = _best_of(5, [*koppel, "--version"], agent_env, home)
        link_s = _timed([*koppel, "link", "bundle.koppel"], agent_env, home)
        envs_s = _best_of(5, [*koppel, "envs"], agent_env, home)
        envs_json_s = _best_of(3, [*koppel, "envs", "--json"], agent_env, home)
        before = (base / "server.log").read_text().count("POST /api/v1/status")
        doctor_s = _timed([*koppel, "doctor"], agent_env, home)
        time.sleep(0.2)
        status_calls = (base / "server.log").read_text().count("POST /api/v1/status") - before
        check_s = _best_of(3, [*admin, "check", "--all"], server_env, base)
    finally:
        server.terminate()
        server.wait(10)
        log.close()
        shutil.rmtree(base, ignore_errors=True)

    rows = [
        (f"link 1 bundle of {n}", link_s, 10.0),
        ("koppel envs (table)", envs_s, 0.5),
        ("koppel envs --json", envs_json_s, 0.5),
        ("koppel doctor", doctor_s, 10.0),
        ("koppel-admin check --all", check_s, 5.0),
    ]
    print(
        f"\nset-up of {n} environments (untimed target): {setup_s:.1f} s; "
        f"bundle download: {bundle_s:.2f} s"
    )
    print(f"reference: `koppel --version` start-up = {reference * 1000:.0f} ms\n")
    print(f"{'measure':<28}{'seconds':>9}{'target':>8}{'x ref':>8}  verdict")
    failed = False
    for name, seconds, target in rows:
        ok = seconds < target
        failed |= not ok
        print(
            f"{name:<28}{seconds:>9.3f}{target:>8.1f}{seconds / reference:>8.1f}  "
            f"{'ok' if ok else 'MISSED'}"
        )
    print(
        f"\ndoctor made {status_calls} status request(s) for {n + 1} environments "
        "(one connection per server, not per environment)"
    )
    failed |= status_calls != 1
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
