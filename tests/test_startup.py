"""What a ``koppel`` process loads: a command pays only for what it uses (every "Send to
Koppel" and every script call starts a fresh process)."""

from __future__ import annotations

import subprocess
import sys

from harness import BIN


def _imported(*args: str) -> set[str]:
    """The modules a real ``koppel`` process imported, from ``-X importtime``."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "koppel.agent", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def test_version_loads_neither_pydantic_nor_httpx() -> None:
    loaded = _imported("--version")
    assert "koppel.agent.cli" in loaded  # the measurement itself works
    assert not {"pydantic", "httpx", "keyring", "rich"} & loaded


def test_the_agent_keeps_httpx_from_loading_its_own_command_line() -> None:
    probe = (
        "import sys\n"
        "from koppel.agent.cli import _skip_httpx_command_line\n"
        "_skip_httpx_command_line()\n"
        "import httpx\n"
        "with httpx.Client() as client: pass\n"
        "print(sorted(m for m in ('rich', 'pygments', 'httpx') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [str(BIN / "python"), "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['httpx']"
