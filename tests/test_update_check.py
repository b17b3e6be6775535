"""The update check (issue 12): a linked server offers the newest agent release of the
environment's update; `koppel update check` says so, the background agent's
`check_daily` notifies once per release, and `koppel update install` installs it into the
agent's own environment with every link kept.

Releases are published as an operator does: a wheel of the given version dropped in the
server's packages folder (built from this checkout, as the server builds its own)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from agent_venvs import agent_venv, pip_install, publish_release
from harness import Server, Workstation
from koppel._version import __version__
from koppel.protocol.updates import AGENT_UPDATE
from koppel.server.adapters.packages import build_wheel

Ws = Callable[..., Workstation]
UPDATE_AVAILABLE = 13
NEXT = f"{AGENT_UPDATE}.{int(__version__.split('.')[2]) + 1}"  # 2026.2.1 beside 2026.2.0


def _packages(srv: Server) -> Path:
    return srv.data_dir / "packages"


def _linked(srv: Server, ws: Ws) -> Workstation:
    laptop = ws("laptop")
    laptop.ok("link", str(laptop.save_settings(srv, "F10001", "anna")))
    return laptop


def test_check_reports_a_newer_release_of_the_agents_update(
    demo_server: Server, workstation: Ws
) -> None:
    laptop = _linked(demo_server, workstation)
    # Nothing published: the server offers the agent it builds of its own release.
    same = laptop.koppel("update", "check")
    assert same.returncode == 0, same.output
    assert f"Koppel {__version__} is up to date" in same.stdout

    publish_release(_packages(demo_server), NEXT)
    # Another update's release is never offered here (that is `update_mismatch`'s job).
    publish_release(_packages(demo_server), f"{AGENT_UPDATE.year}.{AGENT_UPDATE.number + 1}.0")
    told = laptop.koppel("update", "check")
    assert told.returncode == UPDATE_AVAILABLE, told.output
    assert (
        f"Koppel {NEXT} is available (you have {__version__}): run `koppel update install`."
        in told.stdout
    )
    data = laptop.koppel("update", "check", "--json").json()
    assert data["update_available"] is True
    assert data["installed"] == __version__
    assert data["available"]["version"] == NEXT
    assert data["available"]["update"] == str(AGENT_UPDATE)
    wheel = _packages(demo_server) / f"koppel-{NEXT}-py3-none-any.whl"
    assert data["available"]["size"] == wheel.stat().st_size
    assert data["servers"] == [{"server": demo_server.url, "ok": True}]


def test_check_without_a_reachable_server_says_so(demo_server: Server, workstation: Ws) -> None:
    laptop = _linked(demo_server, workstation)
    demo_server.stop()
    result = laptop.koppel("update", "check")
    assert result.returncode == 4, result.output
    assert "no server could be asked" in result.stdout


def _check_daily(laptop: Workstation, force: bool) -> list[str]:
    """One call of the background agent's check, in a process of this workstation's user;
    the lines it logged. No desktop session here: a notification is its log line."""
    code = (
        "from koppel.agent.updating import check_daily\n"
        f"result = check_daily(print, force={force})\n"
        "print('checked' if result is not None else 'not due')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**laptop.env, "KOPPEL_NO_NOTIFICATIONS": "1"},
        cwd=laptop.home,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.splitlines()


def test_the_background_check_notifies_once_per_release(
    demo_server: Server, workstation: Ws
) -> None:
    laptop = _linked(demo_server, workstation)
    publish_release(_packages(demo_server), NEXT)

    def notified(lines: list[str]) -> list[str]:
        return [line for line in lines if line.startswith("notification: Koppel")]

    first = _check_daily(laptop, force=False)
    assert notified(first) == [
        f"notification: Koppel {NEXT} is available: You have {__version__}. Install it with "
        "`koppel update install`; your linked environments are kept."
    ], first
    # Within the day: not asked again.
    assert _check_daily(laptop, force=False) == ["not due"]
    # "Check now" asks again, and the same release is not told twice.
    again = _check_daily(laptop, force=True)
    assert again[-1] == "checked" and notified(again) == [], again
    remembered = json.loads((laptop.home / ".local/share/koppel/update-check.json").read_text())
    assert remembered["notified"] == [NEXT]

    # A later release is told once in its turn.
    later = f"{AGENT_UPDATE}.{int(NEXT.split('.')[2]) + 1}"
    publish_release(_packages(demo_server), later)
    told = notified(_check_daily(laptop, force=True))
    assert len(told) == 1 and f"Koppel {later} is available" in told[0]


@pytest.mark.slow
def test_install_upgrades_the_agent_and_keeps_every_link(
    demo_server: Server, workstation: Ws, tmp_path: Path
) -> None:
    srv = demo_server
    laptop = workstation("laptop")
    firm = laptop.save_settings(srv, "F10001", "anna")
    bundle = laptop.save_settings(srv, "F10001", "anna", bundle=True)
    # The agent as a user installed it: its own venv, the release before.
    agent_bin = agent_venv(tmp_path / "agent-venv")
    old_wheel = tmp_path / f"koppel-{__version__}-py3-none-any.whl"
    build_wheel(__version__, old_wheel)
    pip_install(agent_bin, old_wheel)
    laptop.bin = agent_bin
    laptop.ok("link", str(firm))
    laptop.ok("link", str(bundle))
    before = sorted(e["code"] for e in laptop.ok("envs", "--json").json())
    assert len(before) >= 2

    publish_release(_packages(srv), NEXT)
    assert laptop.koppel("update", "check").returncode == UPDATE_AVAILABLE
    installed = laptop.koppel("update", "install", "--json")
    assert installed.returncode == 0, installed.output
    assert installed.json() == {
        "previous": __version__,
        "installed": NEXT,
        "changed": True,
        "installer": "pip",
    }

    assert f"koppel {NEXT} " in laptop.ok("--version").stdout
    assert sorted(e["code"] for e in laptop.ok("envs", "--json").json()) == before
    assert laptop.ok("doctor", "--json").json()["ok"]
    assert laptop.ok("info", "F10001").returncode == 0
    up_to_date = laptop.koppel("update", "install")
    assert up_to_date.returncode == 0 and "up to date" in up_to_date.stdout


def test_a_tampered_download_is_not_installed(
    demo_server: Server, workstation: Ws, tmp_path: Path
) -> None:
    laptop = _linked(demo_server, workstation)
    # Were the check to fail, pip would install into --target, never into the test's venv.
    laptop.env["PIP_TARGET"] = str(tmp_path / "never-installed")
    wheel = publish_release(_packages(demo_server), NEXT)
    laptop.koppel("update", "check")  # the server hashes the wheel as published
    # Replaced behind the server's back with the same size and time: the server still
    # announces the first hash, the bytes no longer match it.
    data = bytearray(wheel.read_bytes())
    data[-30] ^= 0xFF
    stat = wheel.stat()
    wheel.write_bytes(bytes(data))
    os.utime(wheel, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    refused = laptop.koppel("update", "install")
    assert refused.returncode == 1, refused.output
    assert "does not match" in refused.stderr and "nothing was installed" in refused.stderr
    assert not (tmp_path / "never-installed").exists()


@pytest.mark.slow
def test_an_agent_installed_by_pipx_is_upgraded_with_pipx(
    demo_server: Server, workstation: Ws, tmp_path: Path
) -> None:
    # pipx is not on this machine: the agent's venv lies where pipx keeps its venvs, and a
    # stand-in `pipx` on the PATH records how it is called and installs as `pipx install
    # --force WHEEL` does (pip into that same venv). pipx itself is not exercised here.
    laptop = workstation("laptop")
    settings = laptop.save_settings(demo_server, "F10001", "anna")
    venv_dir = tmp_path / "home/.local/share/pipx/venvs/koppel"
    agent_bin = agent_venv(venv_dir)
    old_wheel = tmp_path / f"koppel-{__version__}-py3-none-any.whl"
    build_wheel(__version__, old_wheel)
    pip_install(agent_bin, old_wheel)
    tools = tmp_path / "tools"
    tools.mkdir()
    record = tmp_path / "pipx-calls.txt"
    pipx = tools / "pipx"
    pipx.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> "{record}"\n'
        f'exec "{agent_bin}/python" -m pip install --quiet --disable-pip-version-check "$3"\n'
    )
    pipx.chmod(0o755)
    laptop.env["PATH"] = f"{tools}:{laptop.env['PATH']}"
    laptop.bin = agent_bin
    laptop.ok("link", str(settings))

    publish_release(_packages(demo_server), NEXT)
    installed = laptop.koppel("update", "install", "--json")
    assert installed.returncode == 0, installed.output
    assert installed.json()["installer"] == "pipx"
    calls = record.read_text().split()
    assert calls[:2] == ["install", "--force"] and calls[2].endswith(
        f"koppel-{NEXT}-py3-none-any.whl"
    )
    assert f"koppel {NEXT} " in laptop.ok("--version").stdout
    assert laptop.ok("doctor", "--json").json()["ok"]


def test_a_server_without_a_release_is_no_error(demo_server: Server, workstation: Ws) -> None:
    laptop = _linked(demo_server, workstation)
    # A packages "folder" that is a file: the server finds no wheel and can build none.
    _packages(demo_server).write_text("not a folder")
    result = laptop.koppel("update", "check", "--json")
    assert result.returncode == 0, result.output
    data = result.json()
    assert data["update_available"] is False
    assert data["servers"] == [
        {"server": demo_server.url, "ok": True, "problem": "this server offers no agent release"}
    ]


def test_a_machine_wide_install_sends_the_user_to_the_administrator(
    demo_server: Server, workstation: Ws
) -> None:
    laptop = _linked(demo_server, workstation)
    publish_release(_packages(demo_server), NEXT)
    # The suite runs as root, for whom every folder is writable: the environment a user may
    # not change is simulated by answering installable_here() with False.
    code = (
        "from koppel.agent import updating\n"
        "from koppel.agent.errors import AgentError\n"
        "updating.installable_here = lambda site_packages=None: False\n"
        "try:\n"
        "    updating.install(print)\n"
        "except AgentError as exc:\n"
        "    print('refused:', exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=laptop.env,
        cwd=laptop.home,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "Downloading" not in done.stdout, done.stdout
    assert f"refused: Koppel {NEXT} is available, but this agent is installed for every user" in (
        done.stdout
    )
    assert "ask your administrator" in done.stdout
    assert laptop.ok("--version").stdout.count(__version__) == 1


def test_installable_here_reads_the_folders_permission(tmp_path: Path) -> None:
    from koppel.agent.updating import installable_here

    assert installable_here(str(tmp_path))
    assert not installable_here(str(tmp_path / "missing"))
