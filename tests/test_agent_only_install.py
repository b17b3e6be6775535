"""An agent-only install (``pip install koppel``, no ``[server]`` extra): the server's
console scripts say in one line how to get the server, exit 2, and never show a traceback.

The wheel is the one the server hands out ("Save installation"), installed with pip into
a fresh virtual environment without any dependency, so none of the server extra's
packages can be imported there: what an agent-only install looks like to the shims.
"""

from __future__ import annotations

import subprocess
import tomllib
import venv
from pathlib import Path

import pytest

from koppel._version import __version__

ROOT = Path(__file__).resolve().parent.parent


def _fresh_venv_with_wheel(tmp_path: Path) -> Path:
    from koppel.server.adapters.packages import build_wheel

    wheel = tmp_path / f"koppel-{__version__}-py3-none-any.whl"
    build_wheel(__version__, wheel)
    folder = tmp_path / "agent-only"
    venv.EnvBuilder(with_pip=True).create(folder)
    subprocess.run(
        [
            str(folder / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--disable-pip-version-check",
            str(wheel),
        ],
        check=True,
    )
    return folder / "bin"


@pytest.mark.slow
def test_server_commands_of_an_agent_only_install_say_how_to_get_the_server(
    tmp_path: Path,
) -> None:
    bin_dir = _fresh_venv_with_wheel(tmp_path)
    assert (bin_dir / "koppelw").is_file()  # the windowless launcher is installed too
    for command in ("koppel-server", "koppel-admin"):
        for args in ([], ["--help"], ["serve", "--port", "8000"]):
            done = subprocess.run(
                [str(bin_dir / command), *args], capture_output=True, text=True, timeout=60
            )
            assert done.returncode == 2, done.stderr
            assert done.stdout == ""
            lines = done.stderr.splitlines()
            assert len(lines) == 1, done.stderr
            assert "pip install 'koppel[server]'" in lines[0]
            assert command in lines[0]
            assert "Traceback" not in done.stderr


def test_the_shims_start_the_server_commands_where_the_server_is_installed() -> None:
    from harness import BIN

    for command in ("koppel-server", "koppel-admin"):
        done = subprocess.run(
            [str(BIN / command), "--help"], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        assert "Usage" in done.stdout


def test_the_wheels_the_server_builds_have_the_scripts_of_the_project() -> None:
    from koppel.server.adapters import packages

    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    assert project["scripts"] == packages._SCRIPTS
    assert project["gui-scripts"] == packages._GUI_SCRIPTS
