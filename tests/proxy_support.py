"""A real HTTP proxy (proxy.py, BSD) on a free loopback port, in its own process, that
records each request it forwards (proxy_recorder.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@dataclass
class LocalProxy:
    """The running proxy: its address and what it forwarded."""

    url: str
    record: Path

    def requests(self) -> list[str]:
        """``METHOD URL`` of every request forwarded so far."""
        if not self.record.exists():
            return []
        return self.record.read_text(encoding="utf-8").splitlines()


def without_proxy_variables(env: dict[str, str]) -> dict[str, str]:
    """``env`` without any proxy variable (in either case)."""
    return {k: v for k, v in env.items() if k.lower() not in PROXY_VARIABLES}


@contextmanager
def local_proxy(folder: Path) -> Iterator[LocalProxy]:
    """Start proxy.py on 127.0.0.1 (one acceptor, threaded), stop it afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    port_file, record = folder / "port", folder / "requests.txt"
    env = without_proxy_variables(dict(os.environ))
    env["KOPPEL_TEST_PROXY_RECORD"] = str(record)
    env["PYTHONPATH"] = str(Path(__file__).parent)
    with (folder / "proxy.log").open("ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "proxy",
                "--hostname",
                "127.0.0.1",
                "--port",
                "0",
                "--port-file",
                str(port_file),
                "--num-acceptors",
                "1",
                "--threaded",
                "--plugins",
                "proxy_recorder.RecordRequests",
            ],
            env=env,
            cwd=folder,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("proxy.py did not start:\n" + (folder / "proxy.log").read_text())
            time.sleep(0.05)
        yield LocalProxy(f"http://127.0.0.1:{port_file.read_text().strip()}", record)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
