"""Running the operating system's tools (``systemctl``, ``launchctl``): one runner type,
so that the callers take a fake where the tool cannot run (tests on another OS)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence

Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


def run(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Run a command to completion, capturing its output; a missing tool answers like a
    failed one (exit 127), so callers have one case to handle."""
    try:
        return subprocess.run(list(args), capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return subprocess.CompletedProcess(list(args), 127, "", str(exc))
