"""Helpers the benchmarks share: free ports, a real server, isolated agent homes,
and reading a process's memory, CPU time and TCP connections from /proc."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A port nobody listens on right now, on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def clean_env() -> dict[str, str]:
    """This process's environment without Koppel or XDG settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("KOPPEL_", "XDG_"))}


def rss_bytes(pid: int) -> int:
    """Resident memory of a process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def tcp_connections(pid: int, remote_port: int) -> int:
    """Established TCP connections of a process (and its threads) to a local port."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            parts = line.split()
            remote, state, inode = parts[2], parts[3], parts[9]
            if state == "01" and inode in inodes and int(remote.split(":")[1], 16) == remote_port:
                count += 1
    return count


def rclone_server(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`rclone serve webdav` on a free loopback port, started; the process and its URL."""
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


def run(args: list[str], env: dict[str, str], cwd: Path, check: bool = True) -> str:
    """Run a command; stop the benchmark with its output when it fails."""
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise SystemExit(f"{' '.join(args[:4])}… exited {done.returncode}:\n{done.stderr[-3000:]}")
    return done.stdout


def timed(args: list[str], env: dict[str, str], cwd: Path) -> float:
    """Wall time of one command that must succeed."""
    start = time.perf_counter()
    run(args, env, cwd)
    return time.perf_counter() - start


@dataclass
class Practice:
    """A running server with the demo practice and one agent home."""

    base: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="koppel-bench-")))
    port: int = field(default_factory=free_port)
    server: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def server_env(self) -> dict[str, str]:
        return dict(
            clean_env(),
            KOPPEL_DATA_DIR=str(self.base / "server"),
            KOPPEL_PORT=str(self.port),
            KOPPEL_PUBLIC_URL=self.url,
            KOPPEL_ACTOR="bench",
        )

    @property
    def home(self) -> Path:
        home = self.base / "home"
        home.mkdir(exist_ok=True)
        return home

    @property
    def agent_env(self) -> dict[str, str]:
        return dict(
            clean_env(),
            HOME=str(self.home),
            XDG_DATA_HOME=str(self.home / ".local/share"),
            KOPPEL_PASSWORD="koppel-demo",
            KOPPEL_DOWNLOADS_DIR=str(self.home / "Downloads"),
            KOPPEL_OPEN_COMMAND="true",
            PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
        )

    def start(self, *extra: str) -> Practice:
        """Start koppel-server and wait until it answers."""
        log = (self.base / "server.log").open("ab")
        self.server = subprocess.Popen(
            [str(BIN / "koppel-server"), "--log-level", "warning", *extra],
            env=self.server_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        for _ in range(300):
            try:
                httpx.get(f"{self.url}/healthz", timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise SystemExit("koppel-server did not start")

    def stop(self) -> None:
        """Stop the server."""
        if self.server:
            self.server.terminate()
            self.server.wait(10)

    def koppel(self, *args: str) -> str:
        """Run the agent; it must succeed."""
        return run([str(BIN / "koppel"), *args], self.agent_env, self.home)

    def link_bundle(self) -> None:
        """Save the demo firm's bundle as anna and link it: the firm and every client."""
        bundle = self.home / "bundle.koppel"
        self.koppel(
            "settings", "download", "--server", self.url, "--env", "F10001",
            "--login", "anna", "--bundle", "-o", str(bundle),
        )  # fmt: skip
        self.koppel("link", str(bundle))

    def token(self, code: str) -> str:
        """The agent's token for one linked environment (the file store, as benches
        keep no keychain)."""
        path = self.home / ".local/share/koppel/tokens.json"
        tokens = json.loads(path.read_text())["tokens"]
        return str(next(t for key, t in tokens.items() if key.split("|")[1] == code))

    def link(self, code: str) -> None:
        """Save one environment's settings as anna and link it."""
        target = self.home / f"{code}.koppel"
        self.koppel(
            "settings", "download", "--server", self.url, "--env", code,
            "--login", "anna", "-o", str(target),
        )  # fmt: skip
        self.koppel("link", str(target))

    def admin(self, *args: str) -> str:
        """Run koppel-admin; it must succeed."""
        return run([str(BIN / "koppel-admin"), *args], self.server_env, self.base)
