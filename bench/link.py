"""Benchmark: one workstation linked to 1,000 client environments.

Starts a real ``koppel-server`` on a free loopback port, creates a firm and 1,000 client
environments with ``koppel-admin`` (each given the firm's dossier template) plus a few
that the user's bundle must leave out (a blocked connector, no Save settings, not a user
there), saves one bundle and links it with the real ``koppel`` agent, which must name
every client left out; then times ``koppel envs``, ``koppel doctor`` and
``koppel-admin check --all``. Each figure is printed with its target and with its ratio
to the start-up time of the agent itself (``koppel --version``) measured in the same run,
the floor of any command.

    .venv/bin/python bench/link.py [--clients 1000] [--skipped 6]
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
from koppel.protocol.counts import counted

BIN = Path(sys.executable).parent


def _run(
    args: list[str], env: dict[str, str], cwd: Path, expect: int = 0
) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != expect:
        raise SystemExit(f"{' '.join(args[:3])}… exited {done.returncode}:\n{done.stderr[-2000:]}")
    return elapsed, done


def _timed(args: list[str], env: dict[str, str], cwd: Path, expect: int = 0) -> float:
    return _run(args, env, cwd, expect)[0]


def _check_report(what: str, stderr: str, left_out: list[str]) -> None:
    """The skipped-client report names every client left out, and no other."""
    if not left_out:
        return
    heading = f"{len(left_out)} client{'s were' if len(left_out) > 1 else ' was'} not included:"
    if heading not in stderr:
        raise SystemExit(f"{what} did not report the clients left out:\n{stderr[-2000:]}")
    named = [
        line.split()[0] for line in stderr.split(heading, 1)[1].splitlines() if line[:2] == "  "
    ]
    if named != left_out:
        raise SystemExit(f"{what} reported {named}, expected {left_out}")


def _best_of(runs: int, args: list[str], env: dict[str, str], cwd: Path) -> float:
    return statistics.median(_timed(args, env, cwd) for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000, help="clients linked")
    parser.add_argument(
        "--skipped", type=int, default=6, help="more clients, which the bundle leaves out"
    )
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
        # Spread among the others; a third each: connector blocked, no Save settings,
        # anna not a user there.
        left_out = [f"C{30000 + n + i}" for i in range(options.skipped)]
        everyone = sorted(codes + left_out)
        csv.write_text("code,name,kind\n" + "".join(f"{c},Client {c},client\n" for c in everyone))
        _timed([*admin, "env", "import", str(csv), "--firm", "F10001"], server_env, base)
        not_member = left_out[2::3]
        _timed(
            [
                *admin, "setup", "client", *(c for c in everyone if c not in not_member),
                "--firm", "F10001", "--user", "anna",
            ],
            server_env,
            base,
        )  # fmt: skip
        for code in left_out[0::3]:
            _timed([*admin, "connector", "block", code], server_env, base)
        for code in left_out[1::3]:
            _timed(
                [*admin, "users", "unauthorize", code, "anna", "--function", "Save settings"],
                server_env,
                base,
            )
        setup_s = time.perf_counter() - start
        bundle_s, saved = _run(
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
        _check_report("settings download --bundle", saved.stderr, left_out)

        reference = _best_of(5, [*koppel, "--version"], agent_env, home)
        link_s, linked = _run([*koppel, "link", "bundle.koppel"], agent_env, home)
        _check_report("link", linked.stderr, left_out)
        if f"Linked {counted(n, 'environment')}" not in linked.stderr:
            raise SystemExit(f"link did not link {n} environments:\n{linked.stderr[-2000:]}")
        envs_s = _best_of(5, [*koppel, "envs"], agent_env, home)
        envs_json_s = _best_of(3, [*koppel, "envs", "--json"], agent_env, home)
        before = (base / "server.log").read_text().count("POST /api/v1/status")
        doctor_s = _timed([*koppel, "doctor"], agent_env, home)
        time.sleep(0.2)
        status_calls = (base / "server.log").read_text().count("POST /api/v1/status") - before
        # The clients left out are incomplete: check lists them and exits 3.
        check_s = statistics.median(
            _timed([*admin, "check", "--all"], server_env, base, expect=3 if left_out else 0)
            for _ in range(3)
        )
    finally:
        server.terminate()
        server.wait(10)
        log.close()
        shutil.rmtree(base, ignore_errors=True)

    rows = [
        (f"link {n} (+{options.skipped} skipped)", link_s, 10.0),
        ("koppel envs (table)", envs_s, 0.5),
        ("koppel envs --json", envs_json_s, 0.5),
        ("koppel doctor", doctor_s, 10.0),
        ("koppel-admin check --all", check_s, 5.0),
    ]
    print(
        f"\nset-up of {n + options.skipped} environments (untimed target): {setup_s:.1f} s; "
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
        f"\ndoctor made {counted(status_calls, 'status request')} for {n + 1:,} environments "
        "(one connection per server, not per environment)"
    )
    failed |= status_calls != 1
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
