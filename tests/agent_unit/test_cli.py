"""The `koppel` commands end to end against the real server (real HTTP, in-process CLI)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from koppel.agent.cli import app
from koppel.agent.exit_codes import ExitCode
from koppel.agent.local import paths, state

from .live_server import DEMO_PASSWORD, LiveServer


def koppel(*args: str, **env: str) -> Result:
    return CliRunner().invoke(app, list(args), env=env or None)


def save(tmp_path: Path, name: str, document: dict[str, Any]) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return str(path)


def bundle(server: LiveServer, codes: list[str]) -> dict[str, Any]:
    return {
        "format": "koppel-bundle/1",
        "firm": "F10001",
        "user": {"login": "anna", "display_name": "Anna"},
        "issued": "2026-01-01T00:00:00+00:00",
        "settings": [server.settings(code) for code in codes],
    }


@pytest.fixture
def practice(server: LiveServer) -> LiveServer:
    """The demo practice: the firm F10001 and its clients C20001, C20002, C20003."""
    return server


def link_all(tmp_path: Path, server: LiveServer) -> None:
    firm = save(tmp_path, "F10001.koppel", server.settings("F10001"))
    clients = save(tmp_path, "clients.koppel", server.bundle())
    result = koppel("link", firm, clients)
    assert result.exit_code == 0, result.output


def test_link_firm_and_bundle_then_list(tmp_path: Path, practice: LiveServer) -> None:
    firm = save(tmp_path, "F10001.koppel", practice.settings("F10001"))
    clients = save(tmp_path, "clients.koppel", practice.bundle())
    result = koppel("link", firm, clients, "--json", "--workstation-name", "desk-7")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["linked"] == ["F10001", "C20001", "C20002", "C20003"]
    assert data["replaced"] == []
    # One server: one link request, no dry run needed.
    assert practice.paths("POST") == ["/api/v1/links"]
    assert practice.requests[0].body["workstation"]["name"] == "desk-7"

    listed = koppel("envs", "--json")
    assert listed.exit_code == 0
    rows = json.loads(listed.stdout)
    assert [row["code"] for row in rows] == ["C20001", "C20002", "C20003", "F10001"]
    assert rows[3]["kind"] == "firm" and rows[3]["login"] == "anna"
    assert rows[0]["server"] == practice.url

    table = koppel("envs")
    assert table.stdout.splitlines()[0].split() == [
        "CODE", "NAME", "KIND", "UPDATE", "USER", "SERVER", "LAST", "CHECK"
    ]  # fmt: skip
    assert len(table.stdout.splitlines()) == 5


def test_wrong_update_is_refused_before_any_server_call(
    tmp_path: Path, practice: LiveServer
) -> None:
    good = save(tmp_path, "C20001.koppel", practice.settings("C20001"))
    newer = practice.settings("C20002")
    newer["environment"]["update"] = "2026.3"
    bad = save(tmp_path, "C20002.koppel", newer)
    result = koppel("link", good, bad)
    assert result.exit_code == ExitCode.UPDATE_MISMATCH
    assert "C20002" in result.stderr and "2026.3" in result.stderr and "2026.2" in result.stderr
    assert "Nothing was linked" in result.stderr
    assert practice.requests == []
    assert state.read().state.environments == {}


def test_server_refusal_links_nothing_and_names_the_file(
    tmp_path: Path, practice: LiveServer
) -> None:
    files = [
        save(tmp_path, "C20001.koppel", practice.settings("C20001")),
        save(tmp_path, "C20002.koppel", practice.settings("C20002")),
    ]
    practice.admin("connector", "block", "C20002")
    result = koppel("link", *files, "--json")
    assert result.exit_code == ExitCode.REFUSED
    assert "C20002.koppel" in result.stderr and "App connector is blocked" in result.stderr
    assert json.loads(result.stdout)["error"]["code"] == "connector_blocked"
    assert state.read().state.environments == {}


def test_used_settings_file_is_invalid_settings(tmp_path: Path, practice: LiveServer) -> None:
    path = save(tmp_path, "C20001.koppel", practice.settings("C20001"))
    assert koppel("link", path).exit_code == 0
    again = koppel("link", path)
    assert again.exit_code == ExitCode.INVALID_SETTINGS
    assert "already used" in again.stderr


def test_unreadable_settings_file(tmp_path: Path) -> None:
    path = tmp_path / "x.koppel"
    path.write_text("not json")
    result = koppel("link", str(path))
    assert result.exit_code == ExitCode.INVALID_SETTINGS
    assert "x.koppel" in result.stderr
    missing = koppel("link", str(tmp_path / "missing.koppel"))
    assert missing.exit_code == ExitCode.INVALID_SETTINGS


def test_relink_replaces_and_old_token_is_revoked(tmp_path: Path, practice: LiveServer) -> None:
    link_all(tmp_path, practice)
    result = koppel("link", save(tmp_path, "C1.koppel", practice.settings("C20001")), "--json")
    assert json.loads(result.stdout)["replaced"] == ["C20001"]
    tokens = json.loads(practice.admin("tokens", "list", "C20001", "--json"))
    assert len(tokens) == 1
    assert koppel("info", "C20001").exit_code == 0


def test_doctor_all_ok_uses_one_request_per_server(tmp_path: Path, practice: LiveServer) -> None:
    link_all(tmp_path, practice)
    practice.requests.clear()
    result = koppel("doctor", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["ok"] and data["checked"] == 4
    assert practice.paths() == ["/api/v1/status"]
    assert state.read().state.environments["C20001"].last_state == "ok"


def convert(server: LiveServer, code: str, update: str) -> None:
    """Make the server answer as if ``code`` had been converted to ``update`` (newer than
    any it hosts, so no administrator's command can)."""
    message = f"{code} is on update {update}; this agent is on update 2026.2."

    def status(answer: Any) -> tuple[int, Any]:
        for entry in answer["statuses"]:
            if entry["environment"] == code:
                entry.update(update=update, state="update_mismatch", message=message)
        return 200, answer

    def refused(_answer: Any) -> tuple[int, Any]:
        return 409, {
            "code": "update_mismatch", "message": message, "environment": code, "details": [],
        }  # fmt: skip

    server.rewrite("POST", "/api/v1/status", status)
    server.rewrite("GET", f"/api/v1/environments/{code}/me", refused)


def test_doctor_reports_each_problem_with_its_fix(tmp_path: Path, practice: LiveServer) -> None:
    link_all(tmp_path, practice)
    practice.admin("connector", "block", "C20001")
    practice.admin("users", "unauthorize", "C20002", "anna", "--function", "My files")
    convert(practice, "C20003", "2026.3")  # converted by the administrator
    practice.admin("tokens", "revoke", "F10001", "--all-tokens")
    result = koppel("doctor", "--json")
    assert result.exit_code == ExitCode.PROBLEMS
    by_env = {e["environment"]: e for e in json.loads(result.stdout)["environments"]}
    assert by_env["C20001"]["state"] == "connector_blocked"
    assert "unblock the Communication Center app connector" in by_env["C20001"]["fix"]
    assert by_env["C20002"]["state"] == "not_authorized"
    assert "General/Output/My files" in by_env["C20002"]["fix"]
    assert by_env["C20003"]["state"] == "update_mismatch"
    # Converted alone: the others follow it (an older agent would not serve C20003).
    assert by_env["C20003"]["fix"].startswith(
        "C20003 is on 2026.3, the rest on 2026.2: ask the administrator to convert F10001 "
        "with its clients to update 2026.3"
    )
    assert "your links are kept" in by_env["C20003"]["fix"]
    assert by_env["F10001"]["state"] == "token_revoked"
    assert "koppel link FILE" in by_env["F10001"]["fix"]
    recorded = state.read().state.environments
    assert recorded["C20003"].update == "2026.3"
    assert recorded["F10001"].last_state == "token_revoked"
    plain = koppel("doctor", "--env", "C20001")
    assert plain.exit_code == ExitCode.PROBLEMS
    assert "C20001: ask the administrator of C20001" in plain.stderr


def test_revoked_token_has_its_own_exit_code(tmp_path: Path, practice: LiveServer) -> None:
    link_all(tmp_path, practice)
    practice.admin("tokens", "revoke", "C20001", "--all-tokens")
    result = koppel("info", "C20001")
    assert result.exit_code == ExitCode.TOKEN_REVOKED
    assert "revoked by its administrator" in result.stderr
    assert "save the settings for C20001 and run `koppel link FILE`" in result.stderr


def test_update_mismatch_on_a_command(tmp_path: Path, practice: LiveServer) -> None:
    link_all(tmp_path, practice)
    convert(practice, "C20001", "2026.3")
    result = koppel("info", "C20001")
    assert result.exit_code == ExitCode.UPDATE_MISMATCH
    # Whether to install another agent depends on every link: doctor says which.
    assert "`koppel doctor`" in result.stderr and "its portal" not in result.stderr


def test_unreachable_server(tmp_path: Path, practice: LiveServer) -> None:
    link_all(tmp_path, practice)
    practice.stop()
    assert koppel("info", "C20001").exit_code == ExitCode.UNREACHABLE
    doctor = koppel("doctor", "--json")
    assert doctor.exit_code == ExitCode.PROBLEMS
    states = {e["state"] for e in json.loads(doctor.stdout)["environments"]}
    assert states == {"unreachable"}


def test_unlink_revokes_and_forgets(tmp_path: Path, practice: LiveServer) -> None:
    link_all(tmp_path, practice)
    result = koppel("unlink", "C20001", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["server_revoked"] is True
    assert "C20001" not in state.read().state.environments
    assert koppel("info", "C20001").exit_code == ExitCode.NOT_LINKED
    assert koppel("unlink", "C20001").exit_code == ExitCode.NOT_LINKED


def test_unlink_when_server_is_gone_still_forgets(tmp_path: Path, practice: LiveServer) -> None:
    link_all(tmp_path, practice)
    practice.stop()
    result = koppel("unlink", "C20002")
    assert result.exit_code == 0
    assert "could not be revoked" in result.stderr and "administrator" in result.stderr
    assert "C20002" not in state.read().state.environments


def test_agent_upgrade_refreshes_stale_links_before_linking(
    tmp_path: Path, practice: LiveServer
) -> None:
    firm = save(tmp_path, "F10001.koppel", practice.settings("F10001"))
    some = save(tmp_path, "some.koppel", bundle(practice, ["C20001", "C20002"]))
    assert koppel("link", firm, some).exit_code == 0
    # Pretend the links were made by the agent of the previous update.
    path = paths.state_file()
    data = json.loads(path.read_text())
    data["agent_update"] = "2026.1"
    for env in data["environments"].values():
        env["update"] = "2026.1"
    path.write_text(json.dumps(data))
    practice.requests.clear()
    result = koppel("link", save(tmp_path, "C3.koppel", practice.settings("C20003")))
    assert result.exit_code == 0, result.output
    assert practice.paths() == ["/api/v1/status", "/api/v1/links"]
    environments = state.read().state.environments
    assert len(environments) == 4
    assert {env.update for env in environments.values()} == {"2026.2"}


def test_two_servers_dry_run_first(tmp_path: Path, practice: LiveServer) -> None:
    other = LiveServer(tmp_path, slot=1).start()
    try:
        files = [
            save(tmp_path, "a.koppel", practice.settings("C20001")),
            save(tmp_path, "b.koppel", other.settings("C20002")),
        ]
        other.admin("connector", "block", "C20002")
        practice.requests.clear()
        result = koppel("link", *files)
        assert result.exit_code == ExitCode.REFUSED
        assert "Nothing was linked" in result.stderr
        # The first server was only asked for a dry run: its code is still unused (the
        # second attempt links it).
        assert [r.body["dry_run"] for r in practice.requests] == [True]
        assert state.read().state.environments == {}
        other.admin("connector", "unblock", "C20002")
        ok = koppel("link", *files, "--json")
        assert ok.exit_code == 0, ok.output
        assert json.loads(ok.stdout)["linked"] == ["C20001", "C20002"]
    finally:
        other.close()


def test_settings_and_installation_download(
    tmp_path: Path, practice: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    # A script's password needs its login; an empty --password-stdin is a usage error.
    monkeypatch.setenv("KOPPEL_PASSWORD", DEMO_PASSWORD)
    no_login = koppel("settings", "download", "--server", practice.url, "--env", "C20001")
    assert no_login.exit_code == ExitCode.USAGE and "--login" in no_login.stderr
    monkeypatch.delenv("KOPPEL_PASSWORD")
    empty = koppel(
        "settings", "download", "--server", practice.url, "--env", "C20001",
        "--login", "anna", "--password-stdin",
    )  # fmt: skip
    assert empty.exit_code == ExitCode.USAGE and "standard input is empty" in empty.stderr
    monkeypatch.setenv("KOPPEL_PASSWORD", "wrong")
    refused = koppel(
        "settings", "download", "--server", practice.url, "--env", "C20001", "--login", "anna"
    )
    assert refused.exit_code == ExitCode.REFUSED and "login or password is wrong" in refused.stderr
    monkeypatch.setenv("KOPPEL_PASSWORD", DEMO_PASSWORD)
    single = koppel(
        "settings", "download", "--server", practice.url, "--env", "C20001", "--login", "anna"
    )
    assert single.exit_code == 0, single.output
    assert (tmp_path / "C20001.koppel").exists()
    many = koppel(
        "settings", "download", "--server", practice.url, "--env", "F10001",
        "--login", "anna", "--bundle", "-o", str(tmp_path),
    )  # fmt: skip
    assert many.exit_code == 0, many.output
    assert (tmp_path / "F10001-clients.koppel").exists()
    linked = koppel("link", "C20001.koppel", "F10001-clients.koppel", "--json")
    assert linked.exit_code == 0, linked.output
    assert sorted(json.loads(linked.stdout)["linked"]) == ["C20001", "C20002", "C20003"]

    # The demo practice leaves "Save installation" to the administrator's choice.
    practice.admin("users", "authorize", "C20001", "anna", "--function", "Save installation")
    wheel = koppel(
        "installation", "download", "--server", practice.url, "--env", "C20001",
        "--login", "anna", "-o", str(tmp_path / "dist"),
    )  # fmt: skip
    assert wheel.exit_code == 0, wheel.output
    (saved,) = (tmp_path / "dist").iterdir()
    assert re.fullmatch(r"koppel-2026\.2\.\d+-py3-none-any\.whl", saved.name)
    assert saved.read_bytes().startswith(b"PK")
    assert "pip install" in wheel.stderr


def test_version_and_help() -> None:
    assert "update 2026.2" in koppel("--version").stdout
    assert json.loads(koppel("version", "--json").stdout)["update"] == "2026.2"
    assert "Exit codes" in koppel("--help").stdout


def test_nothing_linked_yet() -> None:
    assert json.loads(koppel("envs", "--json").stdout) == []
    assert koppel("doctor").exit_code == 0


def test_more_settings_than_one_request_takes_are_dry_run_first(
    tmp_path: Path, practice: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from koppel.agent import linking

    monkeypatch.setattr(linking, "MAX_PER_REQUEST", 2)
    clients = save(tmp_path, "clients.koppel", practice.bundle())
    result = koppel("link", clients, "--json")
    assert result.exit_code == 0, result.output
    assert [(r.body["dry_run"], len(r.body["settings"])) for r in practice.requests] == [
        (True, 2),
        (True, 1),
        (False, 2),
        (False, 1),
    ]


def test_envs_loads_no_network_or_keychain_code(tmp_path: Path, practice: LiveServer) -> None:
    import os
    import subprocess
    import sys

    link_all(tmp_path, practice)
    code = (
        "import sys\n"
        "from koppel.agent.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('httpx', 'keyring', 'rich.table') if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(
        [sys.executable, "-c", code, "envs"], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"
