"""Updates: converting environments, the old agent told so, the new agent keeping links.

Installs agent wheels that the server hands out ("Save installation") into a fresh
virtual environment with pip, as a user would. The wheels' dependencies are taken from
the test environment (a .pth file) so that the test needs no download.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
from collections.abc import Callable
from pathlib import Path

import pytest

from harness import Server, Workstation

Ws = Callable[..., Workstation]


def _agent_venv(folder: Path) -> Path:
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


def _pip_install(bin_dir: Path, wheel: Path) -> None:
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


def _download_installation(ws: Workstation, server: Server, env: str) -> Path:
    target = ws.home / "downloads"
    target.mkdir(exist_ok=True)
    result = ws.koppel(
        "installation",
        "download",
        "--server",
        server.url,
        "--env",
        env,
        "--login",
        "anna",
        "-o",
        str(target),
        "--json",
    )
    assert result.returncode == 0, result.output
    return Path(result.json()["file"])


@pytest.mark.slow
def test_conversion_then_agent_upgrade_keeps_links(
    demo_server: Server, workstation: Ws, tmp_path: Path
) -> None:
    srv = demo_server
    # A practice still on the previous update.
    srv.ok(
        "env", "create", "F30001", "--name", "Oude Firma", "--kind", "firm", "--update", "2026.1"
    )
    srv.ok("users", "add", "F30001", "anna")
    srv.ok("setup", "firm", "F30001")
    srv.ok(
        "env",
        "create",
        "C30001",
        "--name",
        "Oude Klant",
        "--kind",
        "client",
        "--update",
        "2026.1",
        "--firm",
        "F30001",
    )
    srv.ok("setup", "client", "C30001", "--firm", "F30001", "--user", "anna")

    ws = workstation("laptop", KOPPEL_PASSWORD="koppel-demo")
    # "Save installation" hands out the agent of the environment's update.
    old_wheel = _download_installation(ws, srv, "F30001")
    assert old_wheel.name == "koppel-2026.1.0-py3-none-any.whl"
    agent_bin = _agent_venv(tmp_path / "agent-venv")
    _pip_install(agent_bin, old_wheel)
    ws.bin = agent_bin
    assert "update 2026.1" in ws.ok("--version").stdout

    ws.ok("link", str(ws.save_settings(srv, "F30001", "anna")))
    ws.ok("link", str(ws.save_settings(srv, "F30001", "anna", bundle=True)))
    # The current-update demo firm does not fit beside them.
    refused = ws.koppel("link", str(ws.save_settings(srv, "F10001", "anna")))
    assert refused.returncode == 6 and "2026.2" in refused.stderr

    srv.ok("env", "convert", "F30001", "--to", "2026.2", "--with-clients")

    told = ws.koppel("info", "C30001")
    assert told.returncode == 6
    assert "2026.2" in told.stderr and "install" in told.stderr.lower()
    doctor = ws.koppel("doctor", "--json")
    assert doctor.returncode == 3
    for finding in doctor.json()["environments"]:
        assert finding["state"] == "update_mismatch"
        assert "2026.2" in finding["fix"]

    new_wheel = _download_installation(ws, srv, "F30001")
    assert new_wheel.name.startswith("koppel-2026.2.")
    _pip_install(agent_bin, new_wheel)
    assert "update 2026.2" in ws.ok("--version").stdout

    envs = ws.ok("envs", "--json").json()
    assert sorted(e["code"] for e in envs) == ["C30001", "F30001"]
    assert ws.ok("doctor", "--json").json()["ok"]
    assert ws.ok("info", "C30001").returncode == 0
    assert {e["update"] for e in ws.ok("envs", "--json").json()} == {"2026.2"}
    # And a 2026.2 environment links beside them now.
    ws.ok("link", str(ws.save_settings(srv, "F10001", "anna")))


def test_the_running_interpreter_is_the_test_venv() -> None:
    # The .pth trick above assumes the tests run inside a virtual environment.
    assert sys.prefix != sys.base_prefix
