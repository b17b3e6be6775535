"""Servers and workstations for the end-to-end tests: a server on a free loopback port
(the app served in the test process by default, a ``koppel-server`` process where the
process is the point), its ``koppel-admin``, and the real ``koppel`` agent in
subprocesses with isolated folders."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

BIN = Path(sys.executable).parent
DEMO_PASSWORD = "koppel-demo"
PORT_IN_USE = 4  # koppel-server's exit code when its port is taken


def free_port() -> int:
    """A port nobody listens on right now, on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _clean_env() -> dict[str, str]:
    # Without PYTHONDONTWRITEBYTECODE (set on some machines) the first koppel process
    # caches the compiled source for the hundreds after it.
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("KOPPEL_", "XDG_")) and k != "PYTHONDONTWRITEBYTECODE"
    }


@dataclass
class Result:
    """A finished command."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """stdout and stderr together, for assertions on messages."""
        return self.stdout + self.stderr

    def json(self) -> Any:
        """stdout parsed as JSON."""
        return json.loads(self.stdout)


def run(args: list[str], env: dict[str, str], cwd: Path, stdin: str | None = None) -> Result:
    """Run a command to completion and capture everything."""
    done = subprocess.run(
        args, env=env, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=180
    )
    return Result(args, done.returncode, done.stdout, done.stderr)


@dataclass
class Server:
    """A running ``koppel-server`` and the ``koppel-admin`` that manages its data."""

    data_dir: Path
    port: int
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)
    # A restarted server keeps its port (its address is in its data by then).
    started_once: bool = False

    def __post_init__(self) -> None:
        self.log = self.data_dir / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *extra: str) -> Server:
        """Start the server and wait until it answers."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(BIN / "koppel-server"),
                    "--port",
                    str(self.port),
                    "--log-level",
                    "warning",
                    *extra,
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        # One client for the whole wait: each httpx.get would load the CA store again.
        with httpx.Client(timeout=1) as probe:
            while time.monotonic() < deadline:
                if self.process.poll() == PORT_IN_USE and not self.started_once:
                    # Another test (another xdist worker) took the port between
                    # free_port() and the bind: nothing was written yet, so start on
                    # another port.
                    self.move_to(free_port())
                    return self.start(*extra)
                if self.process.poll() is not None:
                    raise RuntimeError("koppel-server exited:\n" + self.log.read_text())
                try:
                    if probe.get(f"{self.url}/healthz").status_code == 200:
                        self.started_once = True
                        return self
                except httpx.HTTPError:
                    time.sleep(0.1)
        raise RuntimeError("koppel-server did not answer:\n" + self.log.read_text())

    def move_to(self, port: int) -> None:
        """Use another port (before the first start: the address is in the data after it)."""
        if self.env.get("KOPPEL_PUBLIC_URL") == self.url:
            self.env["KOPPEL_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
        self.port = port
        self.env["KOPPEL_PORT"] = str(port)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def admin(self, *args: str, stdin: str | None = None) -> Result:
        """Run ``koppel-admin`` against this server's data."""
        return run([str(BIN / "koppel-admin"), *args], self.env, self.data_dir, stdin)

    def ok(self, *args: str) -> Result:
        """Run ``koppel-admin`` and insist that it succeeds."""
        result = self.admin(*args)
        assert result.returncode == 0, result.output
        return result


def make_server(base: Path, *, database_url: str | None = None, process: bool = False) -> Server:
    """A server (not started) with its own data folder and settings: the app served on a
    thread of the test process (``served_server.ServedServer``: same interface, no
    process start-up), or with ``process=True`` a ``koppel-server`` process, for tests
    about the process itself (start-up, exit codes, its log, kills, file modes)."""
    data_dir = base / f"server-{uuid.uuid4().hex[:6]}"
    port = free_port()
    env = _clean_env()
    env.update(
        KOPPEL_DATA_DIR=str(data_dir),
        KOPPEL_HOST="127.0.0.1",
        KOPPEL_PORT=str(port),
        KOPPEL_PUBLIC_URL=f"http://127.0.0.1:{port}",
        KOPPEL_ACTOR="test-admin",
    )
    if database_url:
        env["KOPPEL_DATABASE_URL"] = database_url
    if process:
        return Server(data_dir, port, env)
    from served_server import ServedServer

    return ServedServer(data_dir, port, env)


@dataclass
class Workstation:
    """One OS user's home on one machine: its own HOME, XDG folders and agent state."""

    home: Path
    env: dict[str, str]
    bin: Path = BIN

    def koppel(self, *args: str, stdin: str | None = None) -> Result:
        """Run the ``koppel`` agent as this user."""
        return run([str(self.bin / "koppel"), *args], self.env, self.home, stdin)

    def ok(self, *args: str) -> Result:
        """Run ``koppel`` and insist that it succeeds."""
        result = self.koppel(*args)
        assert result.returncode == 0, result.output
        return result

    def save_settings(
        self,
        server: Server,
        env: str,
        login: str,
        *,
        bundle: bool = False,
        password: str = DEMO_PASSWORD,
    ) -> Path:
        """ "Save settings" through the agent; returns the file written.

        An arrange step: the agent's own use case runs in this process over real HTTP (the
        command's process adds nothing here, and hundreds of them cost a minute of the
        suite). A workstation on another agent install (``bin`` changed, as in the update
        tests) runs that agent's command, since its update decides what the server gives.
        The command itself is tested where it is the subject (``settings download``)."""
        target = self.home / f"{env}{'-bundle' if bundle else ''}-{uuid.uuid4().hex[:6]}.koppel"
        if self.bin == BIN:
            from koppel.agent.settings_download import download_settings

            download_settings(
                server.url,
                env,
                login,
                password,
                bundle=bundle,
                output=target,
                workstation=self.env["KOPPEL_WORKSTATION_NAME"],
                say=lambda _line: None,
                open_browser=False,
            )
            return target
        args = [
            "settings",
            "download",
            "--server",
            server.url,
            "--env",
            env,
            "--login",
            login,
            "-o",
            str(target),
        ]
        if bundle:
            args.append("--bundle")
        env_vars = dict(self.env, KOPPEL_PASSWORD=password)
        result = run([str(self.bin / "koppel"), *args], env_vars, self.home)
        assert result.returncode == 0, result.output
        return target


def make_workstation(base: Path, name: str, **extra: str) -> Workstation:
    """A workstation with isolated HOME and XDG folders; tokens in the file store."""
    home = base / f"home-{name}-{uuid.uuid4().hex[:6]}"
    home.mkdir(parents=True)
    env = _clean_env()
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / ".local/share"),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_STATE_HOME=str(home / ".local/state"),
        KOPPEL_WORKSTATION_NAME=name,
        # No desktop keychain runs here; keyring's own "fail" backend is what a headless
        # machine has, so the agent must fall back to its 0600 file.
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
    )
    env.update(extra)
    return Workstation(home, env)
