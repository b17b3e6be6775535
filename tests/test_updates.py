"""Updates: converting environments, the old agent told so, the new agent keeping links.

Installs agent wheels that the server hands out ("Save installation") into a fresh
virtual environment with pip, as a user would. The wheels' dependencies are taken from
the test environment (a .pth file) so that the test needs no download.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent_venvs import agent_venv, pip_install
from harness import Server, Workstation
from koppel.protocol.updates import AGENT_UPDATE

Ws = Callable[..., Workstation]
CURRENT = str(AGENT_UPDATE)
PREVIOUS = str(AGENT_UPDATE.previous())
INVALID_SETTINGS, PROBLEMS = 8, 3


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
    agent_bin = agent_venv(tmp_path / "agent-venv")
    pip_install(agent_bin, old_wheel)
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
    pip_install(agent_bin, new_wheel)
    assert "update 2026.2" in ws.ok("--version").stdout

    envs = ws.ok("envs", "--json").json()
    assert sorted(e["code"] for e in envs) == ["C30001", "F30001"]
    assert ws.ok("doctor", "--json").json()["ok"]
    assert ws.ok("info", "C30001").returncode == 0
    assert {e["update"] for e in ws.ok("envs", "--json").json()} == {"2026.2"}
    # And a 2026.2 environment links beside them now.
    ws.ok("link", str(ws.save_settings(srv, "F10001", "anna")))


def _old_practice(srv: Server) -> None:
    """Firm F50001 with clients C60001 and C60002, all on the previous update; anna is an
    employee of all three (set up as `koppel-admin setup` does it)."""
    srv.ok("env", "create", "F50001", "--name", "Firma", "--kind", "firm", "--update", PREVIOUS)
    srv.ok("users", "add", "F50001", "anna")
    srv.ok("setup", "firm", "F50001")
    for code in ("C60001", "C60002"):
        srv.ok("env", "create", code, "--kind", "client", "--update", PREVIOUS, "--firm", "F50001")
        srv.ok("setup", "client", code, "--firm", "F50001", "--user", "anna")


def _steps(srv: Server, code: str) -> dict[str, Any]:
    [env] = srv.admin("check", code, "--json").json()["environments"]
    return {step["key"]: step for step in env["steps"]}


def _admin_command(text: str) -> list[str]:
    """The `koppel-admin …` command quoted in a message, as arguments."""
    quoted = text.split("`koppel-admin ", 1)[1].split("`", 1)[0]
    return shlex.split(quoted)


def test_converting_part_of_a_firm_says_what_stays_behind(demo_server: Server) -> None:
    srv = demo_server
    _old_practice(srv)

    alone = srv.ok("env", "convert", "C60001", "--to", CURRENT)
    text = alone.stdout
    assert f"C60001 converted from update {PREVIOUS} to {CURRENT}" in text
    assert f"F50001 ({PREVIOUS}), C60002 ({PREVIOUS})" in text
    assert "anna" in text and "one update only" in text
    assert f"koppel-admin env convert F50001 --with-clients --to {CURRENT}" in text
    [behind] = srv.ok("env", "convert", "C60001", "--to", CURRENT, "--json").json()["left_behind"]
    assert behind == {
        "firm": "F50001",
        "target": CURRENT,
        "environments": [
            {"code": "F50001", "update": PREVIOUS},
            {"code": "C60002", "update": PREVIOUS},
        ],
        "employees": ["anna"],
        "fix": f"koppel-admin env convert F50001 --with-clients --to {CURRENT}",
    }

    # The firm without --with-clients leaves the client not converted yet.
    firm_only = srv.ok("env", "convert", "F50001", "--to", CURRENT, "--json").json()
    [behind] = firm_only["left_behind"]
    assert behind["environments"] == [{"code": "C60002", "update": PREVIOUS}]
    srv.ok(*shlex.split(behind["fix"])[1:])
    assert srv.ok("env", "convert", "C60001", "--to", CURRENT, "--json").json()["left_behind"] == []
    done = srv.ok("env", "convert", "F50001", "--with-clients", "--to", CURRENT)
    assert "Not on update" not in done.stdout


def test_check_converts_the_firm_with_its_clients(demo_server: Server) -> None:
    srv = demo_server
    _old_practice(srv)
    assert _steps(srv, "F50001")["clients-update"]["done"]
    srv.ok("env", "convert", "C60001", "--to", CURRENT)

    fix = f"koppel-admin env convert F50001 --with-clients --to {CURRENT}"
    firm_step = _steps(srv, "F50001")["clients-update"]
    assert not firm_step["done"] and firm_step["fix"] == fix
    assert f"C60001 ({CURRENT})" in firm_step["detail"]
    # C60001 is on the newer update already: its firm (with the other clients) follows.
    client_step = _steps(srv, "C60001")["update"]
    assert not client_step["done"] and client_step["fix"] == fix
    # C60002 is where its firm is: nothing to do for it by itself.
    assert _steps(srv, "C60002")["update"]["done"]
    text = srv.admin("check", "F50001", "C60001").stdout
    assert f"env convert C60001 --to {CURRENT}" not in text
    assert text.count(fix) == 2

    srv.ok(*shlex.split(fix)[1:])
    for code in ("F50001", "C60001", "C60002"):
        steps = _steps(srv, code)
        assert all(steps[k]["done"] for k in ("update", "clients-update") if k in steps), code


def test_settings_saved_before_a_conversion_say_save_again(
    demo_server: Server, workstation: Ws
) -> None:
    srv, ws = demo_server, workstation("laptop")
    _old_practice(srv)
    stale = ws.save_settings(srv, "C60002", "anna")
    srv.ok("env", "convert", "F50001", "--with-clients", "--to", CURRENT)

    refused = ws.koppel("link", str(stale), "--json")
    assert refused.returncode == INVALID_SETTINGS, refused.output
    error = refused.json()["error"]
    assert error["code"] == "settings_outdated"
    message = error["message"]
    assert "Save the settings for C60002 again" in message
    assert f"on the portal {srv.url}/portal/F50001" in message  # C60002 has no portal
    assert f"koppel settings download --server {srv.url} --env C60002" in message
    assert "ask the administrator to convert" not in message
    assert ws.ok("envs", "--json").json() == []

    # Someone who may not save settings is not told to.
    srv.ok(
        "users", "unauthorize", "C60002", "anna",
        "--function", "General/User/Communication Center/Save settings",
    )  # fmt: skip
    refused = ws.koppel("link", str(stale))
    assert refused.returncode != 0
    assert "Save the settings" not in refused.stderr
    assert "administrator" in refused.stderr
    srv.ok(
        "users", "authorize", "C60002", "anna",
        "--function", "General/User/Communication Center/Save settings",
    )  # fmt: skip

    # Saved again, as the message says, the settings link.
    ws.ok("link", str(ws.save_settings(srv, "C60002", "anna")))
    assert [e["code"] for e in ws.ok("envs", "--json").json()] == ["C60002"]


@pytest.mark.slow
def test_doctor_tells_links_on_two_updates_to_convert_the_firm(
    demo_server: Server, workstation: Ws, tmp_path: Path
) -> None:
    srv = demo_server
    _old_practice(srv)
    ws = workstation("laptop", KOPPEL_PASSWORD="koppel-demo")
    agent_bin = agent_venv(tmp_path / "agent-venv")
    pip_install(agent_bin, _download_installation(ws, srv, "F50001"))
    ws.bin = agent_bin
    ws.ok("link", str(ws.save_settings(srv, "F50001", "anna")))
    ws.ok("link", str(ws.save_settings(srv, "C60001", "anna")))
    srv.ok("env", "convert", "C60001", "--to", CURRENT)  # a client alone: a mistake
    picture = (
        f"C60001 is on {CURRENT}, the rest on {PREVIOUS}: "
        "ask the administrator to convert F50001 with its clients"
    )

    # The old agent: installing the new one would only move the problem to F50001.
    old = ws.koppel("doctor", "--json")
    assert old.returncode == PROBLEMS
    findings = {f["environment"]: f for f in old.json()["environments"]}
    assert findings["F50001"]["state"] == "ok"
    assert findings["C60001"]["state"] == "update_mismatch"
    assert picture in findings["C60001"]["fix"]
    told = ws.koppel("info", "C60001")
    assert told.returncode == 6
    assert "convert F50001 with its clients" in told.stderr
    assert "its portal" not in told.stderr  # C60001 has none

    # The newer agent (Save installation where it is offered: the demo firm's portal).
    pip_install(agent_bin, _download_installation(ws, srv, "F10001"))
    new = ws.koppel("doctor")
    assert new.returncode == PROBLEMS
    assert f"F50001: {picture}" in new.stderr
    assert f"converted to update {PREVIOUS}" not in new.output
    assert f"install the agent of update {PREVIOUS}" not in new.output.lower()
    findings = {f["environment"]: f for f in ws.koppel("doctor", "--json").json()["environments"]}
    assert findings["C60001"]["state"] == "ok"
    assert findings["F50001"]["state"] == "update_mismatch"
    assert (
        findings["F50001"]["message"] == f"F50001 is on update {PREVIOUS}, this agent on {CURRENT}"
    )

    # The administrator runs the command the message quotes; one agent fits all again.
    srv.ok(*_admin_command(findings["F50001"]["fix"]))
    assert ws.ok("doctor", "--json").json()["ok"]


@pytest.mark.slow
def test_doctor_sends_to_save_installation_only_where_the_user_may(
    demo_server: Server, workstation: Ws, tmp_path: Path
) -> None:
    srv = demo_server
    _old_practice(srv)
    ws = workstation("laptop", KOPPEL_PASSWORD="koppel-demo")
    agent_bin = agent_venv(tmp_path / "agent-venv")
    pip_install(agent_bin, _download_installation(ws, srv, "F50001"))
    ws.bin = agent_bin
    ws.ok("link", str(ws.save_settings(srv, "F50001", "anna")))
    ws.ok("link", str(ws.save_settings(srv, "F50001", "anna", bundle=True)))
    srv.ok("env", "convert", "F50001", "--with-clients", "--to", CURRENT)

    fixes = {f["fix"] for f in ws.koppel("doctor", "--json").json()["environments"]}
    [fix] = fixes
    assert f"install the agent of update {CURRENT}" in fix
    # Clients have no portal, and anna may Save installation in the firm only.
    assert f'"Save installation" for F50001 on the portal {srv.url}/portal/F50001' in fix

    srv.ok(
        "users", "unauthorize", "F50001", "anna",
        "--function", "General/User/Communication Center/Save installation",
    )  # fmt: skip
    [fix] = {f["fix"] for f in ws.koppel("doctor", "--json").json()["environments"]}
    assert f"ask the administrator for the agent of update {CURRENT}" in fix
    assert "Save installation" not in fix
    told = ws.koppel("info", "C60001")
    assert "Save installation" not in told.stderr and "administrator" in told.stderr


def test_the_running_interpreter_is_the_test_venv() -> None:
    # The .pth trick above assumes the tests run inside a virtual environment.
    assert sys.prefix != sys.base_prefix
