"""Throwaway agent installs for the update tests: a fresh virtual environment into which
agent wheels are installed with pip, as a user would, and wheels of any release version
built from this checkout the way the server builds them ("Save installation").

The venv takes the wheels' dependencies from the test environment (a .pth file) so that
installing needs no download."""

from __future__ import annotations

import subprocess
import sysconfig
import venv
from pathlib import Path

from koppel.server.adapters.packages import build_wheel


def agent_venv(folder: Path) -> Path:
    """A fresh venv whose dependencies come from the test environment; its bin folder."""
    venv.EnvBuilder(with_pip=True).create(folder)
    python = folder / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # Dependencies only: the test environment's own koppel is an editable install whose
    # hook lives in a .pth file that Python does not process from an added folder.
    (Path(site) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return folder / "bin"


def pip_install(bin_dir: Path, wheel: Path) -> None:
    """Install ``wheel`` into the venv of ``bin_dir`` (its dependencies are there)."""
    subprocess.run(
        [
            str(bin_dir / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--disable-pip-version-check",
            str(wheel),
        ],
        check=True,
    )


def publish_release(packages: Path, version: str) -> Path:
    """Put the agent wheel of ``version`` in a server's packages folder, as an operator
    drops a release there; the server offers the newest of each update."""
    packages.mkdir(parents=True, exist_ok=True)
    wheel = packages / f"koppel-{version}-py3-none-any.whl"
    build_wheel(version, wheel)
    return wheel
